# Sourced by the training scripts: PRECISION, unless set, is bf16 where DEVICE computes it natively (a GPU, or a CPU
# with AVX-512 bf16 or AMX: 1.35x fp32 on the 2-core AVX-512 machine) and fp32 elsewhere (on an AVX2 CPU emulated
# bf16 took 21 s a step where fp32 took 0.9 s).
PRECISION=${PRECISION:-$("${PYTHON:-.venv/bin/python}" -c "import torch
from waestyle.core.devices import native_bf16
print('bf16' if native_bf16(torch.device('${DEVICE:-cpu}'.split(':')[0])) else 'fp32')")}
