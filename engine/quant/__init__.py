"""Quantization as a feature flag (`roofwatch-engine run --quant MODE`).

Kept free of imports so that engine.ops can use the numeric helpers below
without a cycle (engine.ir imports engine.ops). The modules:

- numeric.py      symmetric per-tensor / per-channel scales, quantize,
                  dequantize, fake-quant, fp16 storage
- calibrate.py    activation ranges: min-max, percentile and KL divergence
                  over a 2048-bin histogram; CalibrationError on empty data
- ranges.py       network-aware ranges (a tensor that is never negative, or
                  feeds only a ReLU, needs no negative range)
- dense.py        how one Linear-like node is quantized (fp16, int8
                  per-channel / per-tensor, outlier split); kernels in
                  engine/ops/quantized.py
- outlier.py      W = W_main (int8) + W_outlier (sparse fp32)
- rowwise.py      FBGEMM-style fused 8-bit and 4-bit row-wise embedding
                  tables; kernels in engine/ops/embedding_rowwise.py
- rowwise_nodes.py the graph hook that swaps an embedding node for its
                  row-wise quantized op
- modes.py        the registry of --quant modes and the graph transform
- collect.py      runs the fp32 graph and collects the input activation of
                  each layer to quantize (calibration)
- commands.py     the CLI's --quant / --calibration / --quant-fp32 options
                  and the quant-sweep command
- accuracy.py     accuracy delta against fp32 (max abs error, AUC or top-1
                  agreement)
- selective.py    the sensitivity sweep that keeps the most harmful layers in
                  fp32 until an accuracy budget is met
"""
