import numpy as np
import pytest

from engine.quant.numeric import (
    amax_per_channel, amax_per_tensor, dequantize, fake_quant, fp16_to_fp32, qrange, quantize, quantize_weight, scale_for,
    to_fp16,
)


def test_the_8_bit_grids_are_symmetric_signed_and_full_unsigned():
    assert qrange() == (-127, 127)
    assert qrange(unsigned=True) == (0, 255)
    assert qrange(4) == (-7, 7)
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8"):
        qrange(16)


def test_amax_maps_to_the_end_of_the_grid_and_zero_to_zero():
    x = np.array([-2.0, -1.0, 0.0, 0.5, 2.0], np.float32)
    q = quantize(x, scale_for(2.0))
    assert q.dtype == np.int8
    assert q.tolist() == [-127, -64, 0, 32, 127]  # -63.5 -> -64 and 31.75 -> 32 (half to even, nearest)


def test_values_beyond_amax_clip_and_unsigned_clips_negatives_to_zero():
    x = np.array([-5.0, -1.0, 1.0, 5.0], np.float32)
    assert quantize(x, scale_for(1.0)).tolist() == [-127, -127, 127, 127]
    q = quantize(x, scale_for(1.0, unsigned=True), unsigned=True)
    assert q.dtype == np.uint8 and q.tolist() == [0, 0, 255, 255]


def test_rounding_is_half_to_even():
    assert quantize(np.array([0.5, 1.5, 2.5, -0.5], np.float32), np.float32(1)).tolist() == [0, 2, 2, 0]


def test_round_trip_error_is_at_most_half_a_step():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10_000).astype(np.float32)
    for unsigned in (False, True):
        data = np.abs(x) if unsigned else x
        amax = amax_per_tensor(data)
        scale = scale_for(amax, unsigned=unsigned)
        err = np.abs(fake_quant(data, amax, unsigned=unsigned) - data)
        assert err.max() <= scale / 2 * (1 + 1e-6)
    # unsigned spends all 256 levels on [0, amax]: about half the signed step
    assert scale_for(3.0, unsigned=True) < 0.51 * scale_for(3.0)


def test_a_zero_range_gets_scale_one_and_quantizes_to_zero():
    assert scale_for(0.0) == 1.0
    assert quantize(np.zeros(3, np.float32), scale_for(0.0)).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="amax must be finite and >= 0"):
        scale_for(-1.0)


def test_per_channel_scales_follow_the_output_axis():
    w = np.array([[1.0, -10.0], [0.5, 2.0]], np.float32)  # (in, out)
    np.testing.assert_array_equal(amax_per_channel(w), [1.0, 10.0])
    q, scale = quantize_weight(w)
    np.testing.assert_allclose(scale, [1 / 127, 10 / 127], rtol=1e-6)
    assert q[:, 0].tolist() == [127, 64] and q[0, 1] == -127
    np.testing.assert_allclose(dequantize(q, scale), w, atol=10 / 127 / 2)
    qt, st = quantize_weight(w, per_channel=False)
    assert st.shape == (1,) and qt[0, 0] == 13  # 1.0 / (10/127) = 12.7


def test_conv_weights_take_axis_0_as_the_channel():
    w = np.zeros((3, 2, 1, 1), np.float32)
    w[1, 0] = -4.0
    np.testing.assert_array_equal(amax_per_channel(w, axis=0), [0.0, 4.0, 0.0])


def test_nan_ranges_are_refused():
    with pytest.raises(ValueError, match="NaN or inf"):
        amax_per_tensor(np.array([1.0, np.nan]))


def test_fp16_storage_halves_the_bytes_and_refuses_overflow():
    w = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)
    h = to_fp16(w)
    assert h.dtype == np.float16 and h.nbytes * 2 == w.nbytes
    assert np.all(np.abs(h.astype(np.float32) - w) <= np.abs(w) * 2.0 ** -11 + 2.0 ** -25)
    with pytest.raises(ValueError, match="cannot be stored as float16"):
        to_fp16(np.array([1.0, 1e6], np.float32))


def test_the_fast_fp16_upcast_is_bit_exact_on_every_half():
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = every[np.isfinite(every)]
    assert finite.size == 63488
    np.testing.assert_array_equal(fp16_to_fp32(finite).view(np.uint32), finite.astype(np.float32).view(np.uint32))
    # infinities and NaNs take numpy's cast
    odd = np.array([np.inf, -np.inf, np.nan, 1.5], np.float16)
    np.testing.assert_array_equal(fp16_to_fp32(odd), odd.astype(np.float32))
    assert fp16_to_fp32(finite.reshape(-1, 64)).shape == (992, 64)
