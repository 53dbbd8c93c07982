"""API shapes of fleet machines and agent registration. Token hashes never leave the database."""
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.known_keys import KnownKeysSerializer
from fleet.models import Machine

MACHINE_NAME_REGEX = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class MachineOutSerializer(serializers.ModelSerializer):
    fingerprint = serializers.SerializerMethodField()
    has_token = serializers.SerializerMethodField()
    ridge_point = serializers.FloatField(read_only=True, allow_null=True, help_text="FLOPs per byte")

    class Meta:
        model = Machine
        fields = [
            "name", "fingerprint", "hostname", "cpu_model", "cores", "memory_bytes", "os", "python", "numpy", "blas",
            "peak_gflops", "peak_gbs", "ridge_point", "enabled", "has_token", "token_created", "first_seen",
            "last_seen",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="null unless signed in as a user"))
    def get_fingerprint(self, machine: Machine) -> str | None:
        # It names the hardware at registration: not for anonymous readers or other machines.
        request = self.context.get("request")
        signed_in = request is not None and request.user.is_authenticated and not isinstance(request.auth, Machine)
        return machine.fingerprint if signed_in else None

    def get_has_token(self, machine: Machine) -> bool:
        return bool(machine.token_hash)


@extend_schema_serializer(component_name="Register")  # "RegisterRequest" as a request body
class RegisterRequestSerializer(KnownKeysSerializer):
    enroll_token = serializers.CharField(max_length=200, help_text="from `manage.py enroll_token`")
    name = serializers.RegexField(
        MACHINE_NAME_REGEX,
        max_length=Machine._meta.get_field("name").max_length,
        help_text="the machine's name in the fleet: letters, digits, '.', '_' and '-'",
        error_messages={"invalid": "Expected letters, digits, '.', '_' or '-', starting with a letter or digit."},
    )
    fingerprint = serializers.CharField(
        max_length=Machine._meta.get_field("fingerprint").max_length,
        help_text="the engine's stable hardware id; the same value re-enrolls the machine",
    )


class RegisterResponseSerializer(serializers.Serializer):
    machine = serializers.CharField()
    token = serializers.CharField(help_text="the machine's new agent token, shown once")

