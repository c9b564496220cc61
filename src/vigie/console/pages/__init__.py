"""The console's pages, one module per section; each is an ``APIRouter``."""
