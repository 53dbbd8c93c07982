"""The API's list pagination: DRF's limit/offset with bounds, so a huge
?offset= or ?limit= is a 400 or a clamp instead of an SQL integer overflow (500)."""
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 10**9


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 1000  # a larger ?limit= is clamped to this

    def get_offset(self, request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        offset = super().get_offset(request)
        if offset > MAX_OFFSET:
            raise ValidationError({self.offset_query_param: [f"Expected at most {MAX_OFFSET}; got {raw!r}."]})
        return offset
