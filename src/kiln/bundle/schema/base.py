"""Shared building blocks of the bundle schema models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Base of every bundle schema model: immutable; unknown keys were already reported
    (and dropped) by normalization, so they are ignored here."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True,
                              defer_build=True)


class Permission(Model):
    level: str
    user_name: str | None = None
    group_name: str | None = None
    service_principal_name: str | None = None


class Grant(Model):
    principal: str
    privileges: list[str] = Field(default_factory=list)


class Lifecycle(Model):
    prevent_destroy: bool | None = None


class ResourceBase(Model):
    """Fields every bundle resource may carry."""

    permissions: list[Permission] | None = None
    lifecycle: Lifecycle | None = None


def deploy_only() -> Any:
    """A field kiln needs to deploy that the Databricks CLI's schema does not require:
    ``bundle validate`` does not warn about it (as the CLI does not); deploy refuses a
    bundle without it (``kiln.deploy.deployer.require_deployable``)."""
    return Field(json_schema_extra={"deploy_only": True})


PauseStatus = Literal["PAUSED", "UNPAUSED"]

# A value that may still be a `${resources...}` reference at validate time.
IntOrRef = int | str

AnyMap = dict[str, Any]
