"""Where things are in the repository, for every suite wherever it lives."""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
PROTO = os.path.join(REPO, "Proto")
FIXTURES = os.path.join(REPO, "Tests", "Fixtures", "python")
# The component files the suites, Scripts/demo.sh and the Swift end-to-end tests share.
COMPONENTS = os.path.join(REPO, "Tests", "Fixtures", "components")
MULTI_COMPONENT = os.path.join(FIXTURES, "multi_component.py")
PUBSUB_COMPONENT = os.path.join(FIXTURES, "pubsub_component.py")
REDIS_STORE = os.path.join(REPO, "SamplesComponents", "python", "redis-store", "redis_store.py")
FILE_SECRETS_DIR = os.path.join(REPO, "SamplesComponents", "cpp", "file-secrets")
DEFAULT_FILE_SECRETS = os.path.join(FILE_SECRETS_DIR, "build", "file-secrets")
