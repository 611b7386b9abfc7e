"""Deploying a resolved bundle to its workspace: plan, lock, build, sync, apply, state."""

from kiln.deploy.deployer import DeployOptions, DeployResult, deploy, destroy
from kiln.events import Event
from kiln.deploy.plan import Action, Plan, make_plan

__all__ = ["Action", "DeployOptions", "DeployResult", "Event", "Plan", "deploy", "destroy",
           "make_plan"]
