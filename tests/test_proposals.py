"""find_proposals against hand-computed cases and a frame-by-frame reference."""
import numpy as np
import pandas as pd
import pytest

from utils.proposals import PROPOSAL_COLUMNS, ProposalParams, find_proposals, proposal_params_from_config

MICRO = ProposalParams(type_idx=2, apex_threshold=0.5, left_min=2, left_max=7, right_min=2, right_max=7,
                       min_len=5, max_len=30)
MACRO = ProposalParams(type_idx=1, apex_threshold=0.5, left_min=7, left_max=29, right_min=7, right_max=29,
                       min_len=15, max_len=88)


def reference(start_p, end_p, apex, offsets, videos, params):
    """METHOD.md 8.2 written out candidate by candidate, in plain Python."""
    n_windows, n_frames = start_p.shape
    rows = []
    for w in range(n_windows):
        for t in range(n_frames):
            if not apex[w, t] > params.apex_threshold:
                continue
            starts = [max(t - d, 0) for d in range(params.left_min, params.left_max + 1)]
            ends = [min(t + d, n_frames - 1) for d in range(params.right_min, params.right_max + 1)]
            s, e = starts[0], ends[0]
            for c in starts:
                if start_p[w, c] > start_p[w, s]:
                    s = c
            for c in ends:
                if end_p[w, c] > end_p[w, e]:
                    e = c
            if (start_p[w, s] > end_p[w, s] and start_p[w, e] < end_p[w, e]
                    and params.min_len <= e - s <= params.max_len):
                rows.append((videos[w], s + offsets[w] + 1, e + offsets[w] + 1, start_p[w, s], end_p[w, e],
                             apex[w, t], params.type_idx, start_p[w, s] * end_p[w, e] * apex[w, t]))
    return pd.DataFrame(rows, columns=PROPOSAL_COLUMNS)


def assert_same(got, expected):
    assert list(got.columns) == PROPOSAL_COLUMNS
    assert len(got) == len(expected)
    assert got["video_name"].tolist() == expected["video_name"].tolist()
    for c in PROPOSAL_COLUMNS[1:]:
        np.testing.assert_array_equal(got[c].to_numpy(), expected[c].to_numpy(), err_msg=c)


@pytest.mark.parametrize("params", [MICRO, MACRO], ids=["micro", "macro"])
def test_matches_reference_on_random_windows_with_ties(params):
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n_windows, n_frames = int(rng.integers(1, 4)), int(rng.choice([40, 256]))
        # Few distinct levels, so argmax ties and equal start/end probabilities are frequent.
        levels = np.linspace(0.0, 1.0, int(rng.integers(2, 6)))
        start_p = rng.choice(levels, size=(n_windows, n_frames))
        end_p = rng.choice(levels, size=(n_windows, n_frames))
        apex = rng.choice(np.array([0.2, 0.5, 0.7, 0.9]), size=(n_windows, n_frames))
        offsets = np.arange(n_windows) * 256
        videos = [f"v{int(rng.integers(0, 2))}" for _ in range(n_windows)]
        got = find_proposals(start_p, end_p, apex, offsets, videos, params)
        assert_same(got, reference(start_p, end_p, apex, offsets, videos, params))


def one_window(n_frames=256):
    return np.full((1, n_frames), 0.1), np.full((1, n_frames), 0.1), np.zeros((1, n_frames))


def test_hand_built_proposal_frames_and_score():
    start_p, end_p, apex = one_window()
    apex[0, 100] = 0.8
    start_p[0, 95] = 0.6   # d = 5
    end_p[0, 95] = 0.2
    end_p[0, 103] = 0.7    # d = 3
    start_p[0, 103] = 0.05
    got = find_proposals(start_p, end_p, apex, [512], ["casme_016_0101"], MICRO)
    assert got.to_dict("records") == [{
        "video_name": "casme_016_0101", "start_frame": 95 + 512 + 1, "end_frame": 103 + 512 + 1,
        "start_score": 0.6, "end_score": 0.7, "apex_score": 0.8, "type_idx": 2, "score": 0.6 * 0.7 * 0.8}]


def test_ties_go_to_the_nearest_frame():
    start_p, end_p, apex = one_window()
    apex[0, 100] = 0.9
    start_p[0, [93, 96]] = 0.6   # d = 7 and d = 4: nearest is 96
    end_p[0, [104, 106]] = 0.6   # d = 4 and d = 6: nearest is 104
    got = find_proposals(start_p, end_p, apex, [0], ["v"], MICRO)
    assert (got.start_frame.tolist(), got.end_frame.tolist()) == ([97], [105])


def test_apex_threshold_is_strict():
    start_p, end_p, apex = one_window()
    start_p[0, 95], end_p[0, 105] = 0.6, 0.6
    apex[0, 100] = 0.5
    assert find_proposals(start_p, end_p, apex, [0], ["v"], MICRO).empty
    apex[0, 100] = 0.5000001
    assert len(find_proposals(start_p, end_p, apex, [0], ["v"], MICRO)) == 1


def test_start_and_end_must_dominate_the_other_probability():
    start_p, end_p, apex = one_window()
    apex[0, 100] = 0.9
    start_p[0, 95], end_p[0, 105] = 0.6, 0.6
    end_p[0, 95] = 0.6  # start_p[s] == end_p[s]: not strictly greater
    assert find_proposals(start_p, end_p, apex, [0], ["v"], MICRO).empty
    end_p[0, 95] = 0.1
    start_p[0, 105] = 0.6  # start_p[e] == end_p[e]
    assert find_proposals(start_p, end_p, apex, [0], ["v"], MICRO).empty


@pytest.mark.parametrize("length,kept", [(9, False), (10, True), (13, True), (14, False)])
def test_length_bounds_are_inclusive(length, kept):
    params = ProposalParams(2, 0.5, 2, 7, 2, 7, min_len=10, max_len=13)
    start_p, end_p, apex = one_window()
    t = 100
    s = t - 7
    e = s + length  # t + 2 .. t + 7
    apex[0, t] = 0.9
    start_p[0, s], end_p[0, e] = 0.6, 0.6
    assert len(find_proposals(start_p, end_p, apex, [0], ["v"], params)) == int(kept)


def test_clipping_at_window_edges():
    start_p, end_p, apex = one_window()
    # t = 0: every candidate start clips to frame 0; end at t + 7.
    apex[0, 0] = 0.9
    start_p[0, 0] = 0.6
    end_p[0, 7] = 0.6
    # t = 253: candidate ends 255 (clipped) only; start at t - 6.
    apex[0, 253] = 0.9
    start_p[0, 247] = 0.6
    end_p[0, 255] = 0.6
    got = find_proposals(start_p, end_p, apex, [256], ["v"], MICRO)
    assert got[["start_frame", "end_frame"]].values.tolist() == [[0 + 257, 7 + 257], [247 + 257, 255 + 257]]


def test_rows_in_window_then_frame_order_and_video_names():
    start_p, end_p, apex = (np.repeat(a, 2, axis=0) for a in one_window())
    for w, t in ((0, 150), (0, 60), (1, 30)):
        apex[w, t] = 0.9
        start_p[w, t - 3], end_p[w, t + 3] = 0.6, 0.6
    got = find_proposals(start_p, end_p, apex, np.array([0, 256]), ["a", "b"], MICRO)
    assert got.video_name.tolist() == ["a", "a", "b"]
    assert got.start_frame.tolist() == [57 + 1, 147 + 1, 27 + 256 + 1]


def test_empty_result_keeps_the_columns():
    start_p, end_p, apex = one_window()
    got = find_proposals(start_p, end_p, apex, [0], ["v"], MICRO)
    assert got.empty and list(got.columns) == PROPOSAL_COLUMNS


def test_bad_inputs_raise():
    start_p, end_p, apex = one_window()
    with pytest.raises(ValueError, match="shape"):
        find_proposals(start_p, end_p[:, :10], apex, [0], ["v"], MICRO)
    with pytest.raises(ValueError, match="window offsets"):
        find_proposals(start_p, end_p, apex, [0, 256], ["v"], MICRO)
    with pytest.raises(ValueError, match="left_min"):
        ProposalParams(2, 0.5, 8, 7, 2, 7, 5, 30)


def test_params_from_published_config_keys():
    config = {"micro_apex_score_threshold": 0.5, "macro_apex_score_threshold": 0.5, "micro_min": 5,
              "micro_max": 30, "macro_min": 15, "macro_max": 90, "macro_average_len": 59}
    for expression, (low, high) in (("micro", (2, 7)), ("macro", (7, 29))):
        config.update({f"{expression}_{side}_{bound}_dis": value for side in ("left", "right")
                       for bound, value in (("min", low), ("max", high))})
    assert proposal_params_from_config(config, "micro") == MICRO
    assert proposal_params_from_config(config, "macro") == MACRO  # max_len int(59 * 3 / 2) = 88, not 90
    with pytest.raises(ValueError, match="'apex'"):
        proposal_params_from_config(config, "apex")
