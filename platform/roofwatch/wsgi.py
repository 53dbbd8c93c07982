import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # platform/ is a source root
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roofwatch.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from core.wsgi_input import whole_reads  # noqa: E402

application = whole_reads(get_wsgi_application())
