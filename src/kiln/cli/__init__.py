"""The ``kiln`` command line: parse arguments, call the services, render the results."""
