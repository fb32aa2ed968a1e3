"""The version of the ``casemesh-contracts`` distribution (read by ``contracts/pyproject.toml``).

It follows the schema versions (checked against the last release by :mod:`contracts.release`):

* **major** — raised when a message's ``SCHEMA_VERSION`` is raised or a message type is removed;
* **minor** — raised for any other change of a published schema (a message type added, an
  optional field, a longer limit on a command …);
* **patch** — anything else (descriptions, examples, code).

The commit that changes this line *is* the release: the check reads the previous release's
schemas from git history at the commit that set its version.
"""

__version__ = "3.2.0"
