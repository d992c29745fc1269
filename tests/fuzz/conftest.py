# The matrix's module-wide world (one per test module, every request rolled back): tests/matrix/conftest.py.
from tests.matrix.conftest import matrix  # noqa: F401
