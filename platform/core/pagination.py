"""The API's list pagination: DRF's limit/offset, read strictly (core.query):
?limit= a whole number of at least 1 (more than max_limit is clamped to it),
?offset= one from 0 to MAX_OFFSET (beyond it an SQL integer overflow, 500);
anything else, empty included, is a 400 naming the parameter."""
from rest_framework.pagination import LimitOffsetPagination

from core.query import optional_int

MAX_OFFSET = 10**9


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 1000  # a larger ?limit= is clamped to this

    def get_limit(self, request) -> int:
        limit = optional_int(request.query_params, self.limit_query_param, 1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request) -> int:
        return optional_int(request.query_params, self.offset_query_param, 0, MAX_OFFSET) or 0

    def get_schema_operation_parameters(self, view) -> list[dict]:
        bounds = {self.limit_query_param: {"minimum": 1},
                  self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET}}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        limit = next(p for p in parameters if p["name"] == self.limit_query_param)
        limit["description"] = f"Number of results to return per page (more than {self.max_limit} gives {self.max_limit})."
        return parameters
