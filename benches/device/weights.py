"""The weights of an ONNX export, carried small: `strip` replaces every large initializer by its shape, mean and
spread; `fill` draws random values with them (speed does not depend on the values). Used by pipeline.sh."""
import sys, json, lzma, numpy as np, onnx
from onnx import numpy_helper
mode, src, dst = sys.argv[1:4]
m = onnx.load(lzma.open(src) if src.endswith(".xz") else src)
if mode == "strip":
    stats = {}
    for init in m.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.size > 1024 and a.dtype in (np.float32, np.float16):
            stats[init.name] = [list(a.shape), str(a.dtype), float(a.astype(np.float64).mean()), float(a.astype(np.float64).std())]
            init.ClearField("raw_data"); init.ClearField("float_data"); init.ClearField("int32_data")
            init.dims[:] = [0]
    m.graph.doc_string = json.dumps(stats)
    onnx.save(m, dst)
else:
    stats = json.loads(m.graph.doc_string)
    rng = np.random.default_rng(0)
    for init in m.graph.initializer:
        if init.name in stats:
            shape, dt, mu, sd = stats[init.name]
            a = (rng.standard_normal(shape) * sd + mu).astype(dt)
            init.CopyFrom(numpy_helper.from_array(a, init.name))
    m.graph.doc_string = ""
    onnx.save(m, dst)
