"""What the run and sweep APIs share: fleet machines upload reports (the
`uploads` actions, token only), anyone who may read runs lists and reads them."""
from rest_framework import exceptions, mixins, viewsets
from rest_framework.authentication import SessionAuthentication

from core.agent_auth import MISSING_TOKEN, IsFleetMachine, MachineTokenAuthentication
from core.pagination import BoundedLimitOffsetPagination
from results.report_openapi import StructRequestSchema
from results.report_parser import ReportBodyParser, check_content_length


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    authentication_classes = [MachineTokenAuthentication, SessionAuthentication]
    parser_classes = [ReportBodyParser]
    schema = StructRequestSchema()
    pagination_class = BoundedLimitOffsetPagination
    uploads: tuple[str, ...] = ("create",)
    summary_serializer_class: type
    detail_serializer_class: type

    def get_permissions(self):
        if self.action in self.uploads:
            return [IsFleetMachine()]
        return super().get_permissions()  # reading: core.access.MayRead

    def get_serializer_class(self):
        return self.detail_serializer_class if self.action == "retrieve" else self.summary_serializer_class

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action in self.uploads:
            check_content_length(request.META)  # before the body is read

    def permission_denied(self, request, message=None, code=None):
        if self.action in self.uploads and request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(MISSING_TOKEN)
        super().permission_denied(request, message, code)
