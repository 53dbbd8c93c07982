"""notify subscribes to regressions' alerts_filed: alerts filed by detection
reach the project's endpoints once the detection transaction has committed."""
import pytest

from notify.models import Delivery, WebhookEndpoint
from results.models import Project
from tests.notify.alerts import make_regression

pytestmark = pytest.mark.django_db


def test_alerts_filed_by_detection_are_sent_to_the_projects_endpoint(receiver, django_capture_on_commit_callbacks):
    project = Project.objects.create(name="example/roofwatch-models",
                                     repository_url="https://github.com/example/roofwatch-models")
    WebhookEndpoint.objects.create(project=project, name="hook", kind="generic", url=receiver.url, secret="s")
    with django_capture_on_commit_callbacks(execute=True):
        summary = make_regression()
    delivery = Delivery.objects.get()
    assert (delivery.summary, delivery.state) == (summary, "delivered")
    assert len(receiver.requests) == 1
