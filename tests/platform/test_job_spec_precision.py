"""A job's config may ask for precision (target_ci, budget_s), which the agent
passes to the engine as --target-ci/--budget-s; bad values are refused by name."""
import pytest
from django.core.exceptions import ValidationError

from fleet.job_spec import check_spec, config_errors, full_config

SPEC = {"model": "mlp", "params": {"batch": 8}, "warmup": 1, "repeats": 5, "timeout_seconds": 60}


def test_a_config_with_a_target_and_a_budget_is_valid_and_kept_as_given():
    config = {"target_ci": 1.5, "budget_s": 30}
    check_spec(config=config, **SPEC)
    assert full_config(config)["target_ci"] == 1.5 and full_config(config)["budget_s"] == 30
    assert "target_ci" not in full_config({})  # absent unless asked for: fixed repeats


@pytest.mark.parametrize("config,message", [
    ({"target_ci": 0}, "target_ci: expected a percent between 0 and 100"),
    ({"target_ci": 100}, "target_ci: expected a percent between 0 and 100"),
    ({"target_ci": "2"}, "target_ci: expected a percent"),
    ({"target_ci": True}, "target_ci: expected a percent"),
    ({"target_ci": 2, "budget_s": 0}, "budget_s: expected a number of seconds > 0"),
    ({"budget_s": 10}, "budget_s: bounds target_ci's extra repeats; give target_ci too."),
])
def test_bad_precision_settings_are_refused_by_name(config, message):
    assert any(message in e for e in config_errors(config))
    with pytest.raises(ValidationError) as info:
        check_spec(config=config, **SPEC)
    assert message in str(info.value.message_dict["config"])


def test_the_unknown_key_message_lists_the_optional_keys_too():
    (error,) = config_errors({"target": 1})
    assert "expected only: passes, quant, flags, inject, target_ci, budget_s, sweep" in error
