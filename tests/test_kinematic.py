"""The built-in `kinematic` generator: valid, deterministic, and biomechanically plausible for all 80 prompts."""

from __future__ import annotations

import numpy as np
import pytest

from text2imu.builder.errors import UnknownNameError
from text2imu.builder.generators import derive_seed, get_generator
from text2imu.builder.generators.kinematic_words import parse_duration_s, parse_prompt
from text2imu.builder.motion import bone_lengths_m
from text2imu.builder.prompts import Prompt, load_prompt_set
from text2imu.builder.skeleton import skeleton

SK = skeleton()
J = {n: i for i, n in enumerate(SK.names)}
FEET = [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]]


def seed_for(prompt_id: str, repetition: int = 0) -> int:
    return derive_seed("test", "kinematic", prompt_id, repetition)


@pytest.fixture(scope="module")
def gen():
    return get_generator("kinematic")


@pytest.fixture(scope="module")
def v1():
    return load_prompt_set("v1")


@pytest.fixture(scope="module")
def motions(gen, v1):
    """One motion per v1 prompt (repetition 0), generated once for the module (~2 s)."""
    return {p.prompt_id: gen.generate(p, 0, seed_for(p.prompt_id)) for p in v1}


def stride_period_s(motion, joint: int = J["left_ankle"]) -> float:
    """Stride period from the autocorrelation of a joint's vertical velocity: the first local maximum in
    0.45-1.6 s that reaches 80 % of the highest one there (so two strides are never taken for one)."""
    v = np.diff(motion.joints_m[:, joint, 1].astype(np.float64))
    v -= v.mean()
    ac = np.correlate(v, v, "full")[len(v) - 1:]
    lo, hi = int(0.45 * motion.fps), int(1.6 * motion.fps)
    peaks = [i for i in range(lo, hi) if ac[i] >= ac[i - 1] and ac[i] >= ac[i + 1]]
    top = max(ac[i] for i in peaks)
    k = next(i for i in peaks if ac[i] >= 0.8 * top)
    a, b, c = ac[k - 1], ac[k], ac[k + 1]  # parabolic refinement of the peak
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) / motion.fps


def cadence_spm(motion) -> float:
    return 2 * 60.0 / stride_period_s(motion)


def speed_mps(motion) -> float:
    p = motion.joints_m[:, 0].astype(np.float64)
    return float(np.linalg.norm(p[-1, [0, 2]] - p[0, [0, 2]]) / motion.duration_s)


def test_all_80_prompts_give_valid_motions_of_3_to_10_s(motions, v1):
    assert len(motions) == 80
    for p in v1:
        m = motions[p.prompt_id]
        m.validated(p.prompt_id)
        assert m.fps == 20.0 and 3.0 <= m.duration_s <= 10.0, p.prompt_id
        assert m.duration_s == pytest.approx(parse_prompt(p).duration_s, abs=0.051), p.prompt_id
        assert m.prompt == p.text and m.metadata["prompt_id"] == p.prompt_id
        assert m.metadata["generator"] == "kinematic" and m.metadata["activity"] == p.activity
        assert m.joints_m.dtype == np.float32


def test_bones_keep_the_adult_skeleton_lengths(motions):
    for pid, m in motions.items():
        lengths = bone_lengths_m(m.joints_m)[:, 1:]
        np.testing.assert_allclose(lengths, np.broadcast_to(SK.bone_lengths_m[1:], lengths.shape), atol=2e-5,
                                   err_msg=pid)


def test_nothing_sinks_into_the_floor_and_feet_touch_it(motions):
    for pid, m in motions.items():
        y = m.joints_m[..., 1]
        assert y.min() > -0.012, (pid, float(y.min()))
        if pid.split("-")[0] in ("walking", "running", "climbingup", "climbingdown", "jumping", "standing"):
            assert m.joints_m[:, FEET, 1].min() < 0.012, pid


def test_deterministic_bytes(gen, v1):
    for pid in ("walking-04", "running-07", "jumping-03", "climbingdown-02", "sitting-10", "lying-03"):
        p = v1.get(pid)
        a, b = gen.generate(p, 2, 1234), gen.generate(p, 2, 1234)
        assert a.joints_m.tobytes() == b.joints_m.tobytes(), pid
        assert dict(a.metadata) == dict(b.metadata)


def test_repetitions_and_seeds_differ(gen, v1):
    for pid in ("walking-01", "standing-01", "lying-01", "jumping-06"):
        p = v1.get(pid)
        base = gen.generate(p, 0, 99).joints_m
        for other in (gen.generate(p, 1, 99).joints_m, gen.generate(p, 0, 100).joints_m):
            n = min(len(base), len(other))
            assert np.abs(base[:n] - other[:n]).max() > 0.005, pid


@pytest.mark.parametrize("rep", [0, 1, 2])
def test_neutral_walking_cadence_and_speed(gen, v1, rep):
    m = gen.generate(v1.get("walking-01"), rep, seed_for("walking-01", rep))
    assert 95 <= cadence_spm(m) <= 125
    assert 1.0 <= speed_mps(m) <= 1.6
    assert cadence_spm(m) == pytest.approx(m.metadata["cadence_spm"], rel=0.05)


def test_running_is_faster_with_a_higher_cadence(gen, v1):
    walk = gen.generate(v1.get("walking-01"), 0, 5)
    run = gen.generate(v1.get("running-01"), 0, 5)
    assert cadence_spm(run) > cadence_spm(walk) + 30
    assert 150 <= cadence_spm(run) <= 195
    assert speed_mps(run) > 2.0 * speed_mps(walk)


def test_pace_words_order_the_speeds(motions):
    assert speed_mps(motions["walking-02"]) < speed_mps(motions["walking-01"]) < speed_mps(motions["walking-03"])
    assert speed_mps(motions["running-02"]) < speed_mps(motions["running-01"]) < speed_mps(motions["running-03"])


def test_running_has_flight_and_a_bouncing_pelvis(motions):
    m = motions["running-01"]
    feet_min = m.joints_m[:, FEET, 1].min(axis=1)
    assert (feet_min > 0.02).mean() > 0.1  # both feet off the ground in >10 % of frames
    y = m.joints_m[:, 0, 1]
    assert 0.04 < np.percentile(y, 95) - np.percentile(y, 5) < 0.14  # vertical oscillation ~6-10 cm


def test_walking_pelvis_rises_and_falls_4_to_6_cm(motions):
    y = motions["walking-01"].joints_m[:, 0, 1]
    assert 0.025 < np.percentile(y, 98) - np.percentile(y, 2) < 0.075


def test_walking_feet_do_not_slide(motions):
    m = motions["walking-01"]
    toes = m.joints_m[:, [J["left_foot"], J["right_foot"]]].astype(np.float64)
    speed = np.linalg.norm(np.diff(toes[..., [0, 2]], axis=0), axis=-1) * m.fps
    on_floor = (toes[1:, :, 1] < 0.01) & (toes[:-1, :, 1] < 0.01)
    assert on_floor.sum() > 20
    assert np.median(speed[on_floor]) < 0.1


@pytest.mark.parametrize(("pid", "sign"), [("climbingup-01", 1), ("climbingdown-01", -1), ("climbingup-07", 1)])
def test_stairs_gain_or_lose_17_cm_per_step(motions, pid, sign):
    m = motions[pid]
    steps = m.duration_s * cadence_spm(m) / 60.0
    rise = (m.joints_m[-1, 0, 1] - m.joints_m[0, 0, 1]) / steps
    assert sign * rise == pytest.approx(0.17, abs=0.02)
    forward = np.linalg.norm(m.joints_m[-1, 0, [0, 2]] - m.joints_m[0, 0, [0, 2]]) / steps
    assert forward == pytest.approx(0.29, abs=0.04)  # the going


def pelvis_vertical_acc_mps2(motion) -> np.ndarray:
    """(T-2,) vertical acceleration of the pelvis joint by second differences at the motion's rate."""
    y = motion.joints_m[:, 0, 1].astype(np.float64)
    return (y[2:] - 2 * y[1:-1] + y[:-2]) * motion.fps**2


@pytest.mark.parametrize("rep", [0, 1, 2])
def test_pelvis_moves_with_the_ground_force(gen, v1, rep):
    """The pelvis of walking and stairs follows the vertical ground reaction force: ~2 m/s^2 RMS in walking
    without the 8-10 m/s^2 jerks of rigid legs after each contact, and stair descent loads harder than ascent."""
    acc = {pid: pelvis_vertical_acc_mps2(gen.generate(v1.get(pid), rep, seed_for(pid, rep)))
           for pid in ("walking-01", "climbingup-01", "climbingdown-01")}
    assert 1.5 < acc["walking-01"].std() < 3.0
    assert np.abs(acc["walking-01"]).max() < 6.5
    assert acc["climbingdown-01"].std() > 1.2 * acc["climbingup-01"].std()
    assert acc["climbingdown-01"].max() > 1.3 * acc["walking-01"].max()


def test_every_jump_prompt_has_a_flight_phase(motions, v1):
    for p in v1.by_activity("jumping"):
        feet_min = motions[p.prompt_id].joints_m[:, FEET, 1].min(axis=1)
        assert (feet_min > 0.03).sum() >= 2, p.prompt_id  # both feet clear of the floor


def test_countermovement_jump_is_ballistic(gen):
    m = gen.generate(Prompt("j", "jumping", "A man performs one high vertical jump for about four seconds."), 0, 3)
    y = m.joints_m[:, 0, 1].astype(np.float64)
    air = m.joints_m[:, FEET, 1].min(axis=1) > 0.05
    idx = np.nonzero(air)[0]
    assert len(idx) >= 6
    inner = idx[1:-1]
    acc = (y[inner + 1] - 2 * y[inner] + y[inner - 1]) * m.fps**2
    np.testing.assert_allclose(acc, -9.81, atol=0.3)  # free fall between take-off and landing
    assert y.min() < y[0] - 0.2  # a real countermovement


def test_lying_is_low_and_horizontal(motions, v1):
    for p in v1.by_activity("lying"):
        m = motions[p.prompt_id]
        support = m.metadata["support_height_m"]
        pelvis = m.joints_m[:, 0, 1]
        assert pelvis.max() - support < 0.4, p.prompt_id
        if m.metadata["plan"]["support"] in ("floor", "ground", "grass", "mat", "yoga mat"):
            assert pelvis.max() < 0.4, p.prompt_id
        trunk = m.joints_m[:, J["neck"]] - m.joints_m[:, 0]
        elevation = np.degrees(np.arctan2(np.abs(trunk[:, 1]), np.linalg.norm(trunk[:, [0, 2]], axis=1)))
        assert elevation.max() < 20, p.prompt_id
        assert m.joints_m[..., 1].min() > support, p.prompt_id  # on the surface, not in it


def test_sitting_pelvis_at_chair_height_and_trunk_up(motions, v1):
    for p in v1.by_activity("sitting"):
        m = motions[p.prompt_id]
        pelvis = m.joints_m[:, 0, 1]
        assert 0.45 <= pelvis.min() and pelvis.max() <= 0.65, p.prompt_id
        trunk = m.joints_m[:, J["neck"]] - m.joints_m[:, 0]
        assert (trunk[:, 1] > 0.3).all(), p.prompt_id
        assert np.linalg.norm(np.diff(m.joints_m[:, 0, [0, 2]], axis=0), axis=1).sum() < 0.2, p.prompt_id


def test_standing_is_nearly_static(motions, v1):
    for p in v1.by_activity("standing"):
        m = motions[p.prompt_id]
        pelvis = m.joints_m[:, 0].astype(np.float64)
        extent = np.linalg.norm(pelvis[:, [0, 2]] - pelvis[0, [0, 2]], axis=1).max()
        assert extent < 0.1, p.prompt_id
        assert abs(pelvis[:, 1].mean() - 0.96) < 0.05, p.prompt_id
        path = np.linalg.norm(np.diff(pelvis[:, [0, 2]], axis=0), axis=1).sum()
        limit = 0.6 if m.metadata["variant"] in ("weight_shift", "sway") else 0.2
        assert path < limit, (p.prompt_id, path)


def test_walking_starts_facing_plus_z_and_backward_walks_back(motions):
    m = motions["walking-01"]
    j = m.joints_m.astype(np.float64)
    assert j[0, J["left_hip"], 0] > j[0, J["right_hip"], 0]  # the person's left is +x
    assert j[-1, 0, 2] - j[0, 0, 2] > 5.0
    back = motions["walking-05"].joints_m
    assert back[-1, 0, 2] - back[0, 0, 2] < -1.5


def test_path_words_turn_the_walker(motions):
    around = motions["walking-06"].joints_m[:, 0]
    assert around[:, 2].max() > 3.0 and abs(around[-1, 2]) < 1.5  # out and back
    left = motions["walking-10"].joints_m[:, 0]
    assert left[-1, 0] > 2.0  # turned to the person's left (+x)
    circle = motions["walking-04"].joints_m[:, 0]
    assert np.linalg.norm(circle[-1, [0, 2]] - circle[0, [0, 2]]) < 3.0 < np.ptp(circle[:, 0]) + np.ptp(circle[:, 2])


def test_words_set_the_plan():
    plan = parse_prompt(Prompt("x", "jumping", "A man jumps as high as he can twice for 4.5 seconds."))
    assert (plan.variant, plan.count, plan.duration_s) == ("cmj", 2, 4.5) and "high" in plan.styles
    assert parse_prompt(Prompt("x", "walking", "Someone walks backwards slowly.")).direction == -1
    assert parse_duration_s("walks for twenty seconds")[0] == 10.0
    assert parse_duration_s("walks for 1 second")[0] == 3.0
    assert parse_duration_s("walks for five to seven seconds")[0] == 6.0
    assert parse_duration_s("walks for a few seconds")[0] == 5.0
    assert parse_duration_s("walks")[0] == 6.0
    lying = parse_prompt(Prompt("x", "lying", "A man lies on his back on a bed with hands on his stomach."))
    assert lying.variant == "supine" and lying.support == "bed"


def test_unknown_activity_in_a_hand_made_prompt(gen):
    with pytest.raises(UnknownNameError, match="Did you mean: walking"):
        gen.generate(Prompt("x", "walkin", "A person walks."), 0, 1)


def test_any_text_of_an_activity_works(gen):
    for activity in ("walking", "running", "climbingup", "climbingdown", "jumping", "lying", "sitting",
                     "standing"):
        m = gen.generate(Prompt("x", activity, "Somebody does it."), 0, 7)
        assert m.duration_s == pytest.approx(6.0)


if __name__ == "__main__":  # `.venv/bin/python tests/test_kinematic.py` prints the measured gait figures
    generator, prompts = get_generator("kinematic"), load_prompt_set("v1")
    print(f"{'prompt':16s} {'pace':6s} {'steps/min':>9s} {'m/s':>5s} {'rise/step':>9s} {'pelvis a_y RMS':>14s}"
          "  (mean of 3 repetitions; a_y in m/s^2 at 20 Hz)")
    for p in prompts:
        if p.activity not in ("walking", "running", "climbingup", "climbingdown"):
            continue
        ms = [generator.generate(p, r, seed_for(p.prompt_id, r)) for r in range(3)]
        cad = np.mean([cadence_spm(m) for m in ms])
        path = np.mean([np.linalg.norm(np.diff(m.joints_m[:, 0, [0, 2]].astype(float), axis=0), axis=1).sum()
                        / m.duration_s for m in ms])
        rise = np.mean([(m.joints_m[-1, 0, 1] - m.joints_m[0, 0, 1]) / (m.duration_s * cadence_spm(m) / 60)
                        for m in ms])
        acc = np.mean([pelvis_vertical_acc_mps2(m).std() for m in ms])
        rise_txt = f"{rise:+9.3f}" if p.activity.startswith("climb") else " " * 9
        print(f"{p.prompt_id:16s} {ms[0].metadata['plan']['pace']:6s} {cad:9.1f} {path:5.2f} {rise_txt} {acc:14.2f}")


# ------------------------------------------------------------------------------------ physiological micro-motion


def test_micro_vibration_has_the_asked_acceleration_rms_inside_its_band():
    from text2imu.builder.generators.kinematic_body import micro_vibration

    rate = 1000.0
    t = np.arange(int(120 * rate)) / rate
    disp = micro_vibration(np.random.default_rng(5), t, (3.0, 6.0), 0.04)
    acc = np.diff(disp, 2) * rate**2
    assert acc.std() == pytest.approx(0.04, rel=0.05)
    power = np.abs(np.fft.rfft(acc)) ** 2
    freq = np.fft.rfftfreq(len(acc), 1 / rate)
    assert power[(freq >= 2.9) & (freq <= 6.1)].sum() > 0.99 * power.sum()
    assert np.abs(disp).max() < 5e-4  # well under a millimetre: the feet stay on the floor


def test_quiet_standing_moves_the_pelvis_vertically_as_trunk_accelerometry_reports(gen, v1):
    """Quiet standing: vertical pelvis acceleration RMS inside the cited 0.02-0.06 m/s^2 of trunk accelerometry
    (Moe-Nilssen 1998; Mancini et al. 2012), less the attenuation of 20 fps second differences at 3-6 Hz (up to
    ~30 % at 6 Hz), for every standing prompt and three repetitions; the drawn figure is in the facts and differs
    between repetitions."""
    drawn = []
    for p in v1.by_activity("standing"):
        for rep in range(3):
            m = gen.generate(p, rep, seed_for(p.prompt_id, rep))
            rms = m.metadata["stance_acc_rms_mps2"]
            drawn.append(rms)
            assert 0.02 <= rms <= 0.06
            acc = pelvis_vertical_acc_mps2(m)
            assert 0.6 * 0.02 <= acc.std() <= 0.06, (p.prompt_id, rep, acc.std())
            assert acc.std() == pytest.approx(rms, rel=0.4), (p.prompt_id, rep)
    assert len(set(drawn)) == len(drawn)


def test_lying_rises_and_falls_a_few_millimetres_with_each_breath(gen, v1):
    for p in v1.by_activity("lying"):
        m = gen.generate(p, 1, seed_for(p.prompt_id, 1))
        excursion = m.metadata["breath_excursion_m"]
        assert 0.002 <= excursion <= 0.005
        y = m.joints_m[:, 0, 1].astype(np.float64)
        assert 0.5 * excursion <= np.ptp(y) <= 1.05 * excursion + 1e-4, (p.prompt_id, np.ptp(y), excursion)
        spectrum = np.abs(np.fft.rfft(y - y.mean(), 4096))
        peak_hz = np.fft.rfftfreq(4096, 1 / m.fps)[np.argmax(spectrum)]
        assert 0.1 <= peak_hz <= 0.35, (p.prompt_id, peak_hz)  # 6-21 breaths/min


def test_sitting_and_dynamic_activities_get_no_micro_motion_facts(motions):
    for pid, m in motions.items():
        activity = pid.split("-")[0]
        assert ("stance_acc_rms_mps2" in m.metadata) == (activity == "standing"), pid
        assert ("breath_excursion_m" in m.metadata) == (activity == "lying"), pid
