#!/usr/bin/env bash
# L_acc demonstration (issue "Motion diffusion with the acceleration loss", item 4), on the CPU of this machine:
#   1. a HumanML3D-layout training set from the kinematic generator (prompt set v1, REPS motions per prompt);
#   2. a base model trained with L_simple only;
#   3. two fine-tunes from the same base checkpoint for the same number of steps and the same seed:
#      with L_acc (--lambda-acc LAMBDA_ACC) and without it (the control the paper lacks);
#   4. `text2imu lacc` of both fine-tunes against the base, on the test split.
# Usage: bash docs/lacc_demo.sh [WORKDIR]   (every setting below can be overridden from the environment)
# Record: docs/diffusion.md ("L_acc demonstration").
set -euo pipefail
WORK=${1:-lacc_demo}
T2I=${T2I:-.venv/bin/text2imu}
REPS=${REPS:-6}                     # motions per prompt: REPS-2 train, 1 val, 1 test (80 prompts)
MODEL_ARGS=${MODEL_ARGS:-"--size small --layers 2 --width 64 --ff 128 --max-frames 120"}
STEPS=${STEPS:-2000}                # base training steps
FT_STEPS=${FT_STEPS:-500}           # steps of each fine-tune
LAMBDA_ACC=${LAMBDA_ACC:-10}
BATCH=${BATCH:-32}
LR=${LR:-1e-4}
SEED=${SEED:-0}
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

mkdir -p "$WORK"
[ -f "$WORK/HumanML3D/Mean.npy" ] || $T2I diffusion export --out "$WORK/HumanML3D" --repetitions "$REPS"
[ -f "$WORK/base/config.json" ] || $T2I diffusion train --data "$WORK/HumanML3D" --out "$WORK/base" $MODEL_ARGS \
    --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --seed "$SEED" --min-frames 40
$T2I diffusion finetune --from "$WORK/base" --data "$WORK/HumanML3D" --out "$WORK/ft_acc" --steps "$FT_STEPS" \
    --batch-size "$BATCH" --lr "$LR" --seed "$((SEED + 1))" --lambda-acc "$LAMBDA_ACC"
$T2I diffusion finetune --from "$WORK/base" --data "$WORK/HumanML3D" --out "$WORK/ft_control" --steps "$FT_STEPS" \
    --batch-size "$BATCH" --lr "$LR" --seed "$((SEED + 1))" --lambda-acc 0
$T2I lacc --data "$WORK/HumanML3D" --before "$WORK/base" --after "$WORK/ft_acc" --out "$WORK/lacc_acc" --split test
$T2I lacc --data "$WORK/HumanML3D" --before "$WORK/base" --after "$WORK/ft_control" --out "$WORK/lacc_control" \
    --split test
$T2I lacc --data "$WORK/HumanML3D" --before "$WORK/ft_control" --after "$WORK/ft_acc" --out "$WORK/lacc_acc_vs_control" \
    --split test
# the same comparisons with the example-sentence categories (fewer captions fall to Other)
$T2I lacc --data "$WORK/HumanML3D" --before "$WORK/base" --after "$WORK/ft_acc" --out "$WORK/lacc_acc_examples" \
    --split test --mode examples
$T2I lacc --data "$WORK/HumanML3D" --before "$WORK/base" --after "$WORK/ft_control" \
    --out "$WORK/lacc_control_examples" --split test --mode examples
