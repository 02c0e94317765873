"""Training curves from a trainer's `state.log_history`: reward components, total reward, loss, KL.

    >>> fig = training_curves([{"step": 1, "rewards/dpp_gain/mean": 0.4, "reward": 0.5},
    ...                        {"step": 2, "rewards/dpp_gain/mean": 0.5, "reward": 0.6}])
    >>> sorted(trace.name for trace in fig.data)
    ['dpp_gain', 'reward (weighted)']
"""

from __future__ import annotations

# The per-step series worth a look, with their display names; trl logs reward components as
# rewards/<function>/mean.
_REWARD_TOTAL = "reward"
_OTHER_SERIES = {"loss": "loss", "kl": "KL to reference", "step_time": "seconds per step"}
# Collapse signals of GRPO (trl's names): groups whose rewards are all equal, policy entropy, clipped ratio,
# completion length (divided by 100 to share the panel's 0–1 scale).
_COLLAPSE_SERIES = {"frac_reward_zero_std": "groups with zero reward std", "entropy": "entropy",
                    "clip_ratio/region_mean": "clipped ratio", "completions/mean_length": "completion tokens / 100"}


def curves(history: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """Series name → (steps, values) for reward components, the weighted reward and the other series."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    for entry in history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if key.startswith("rewards/") and key.endswith("/mean"):
                name = key[len("rewards/") : -len("/mean")]
            elif key == _REWARD_TOTAL:
                name = "reward (weighted)"
            elif key in _OTHER_SERIES:
                name = _OTHER_SERIES[key]
            elif key in _COLLAPSE_SERIES:
                name = _COLLAPSE_SERIES[key]
                value = value / 100 if key == "completions/mean_length" else value
            else:
                continue
            steps, values = out.setdefault(name, ([], []))
            steps.append(step)
            values.append(float(value))
    return out


def training_curves(history: list[dict], title: str = "training"):
    """A plotly figure: rewards on the left axis' panel, loss / KL / step time below; None with nothing logged."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    series = curves(history)
    if not series:
        return None
    collapse = {k: v for k, v in series.items() if k in _COLLAPSE_SERIES.values()}
    others = {k: v for k, v in series.items() if k in _OTHER_SERIES.values()}
    rewards = {k: v for k, v in series.items() if k not in others and k not in collapse}
    panels = [("rewards (per-component means)", rewards)] + ([("loss, KL, seconds/step", others)] if others else []) \
        + ([("collapse signals", collapse)] if collapse else [])
    rows = len(panels)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=[title for title, _ in panels])
    for row, (_, panel) in enumerate(panels, 1):
        for name, (steps, values) in panel.items():
            fig.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers" if row == 1 else "lines", name=name),
                          row=row, col=1)
    fig.update_layout(title=title, height=350 * rows, xaxis_title="step" if rows == 1 else None)
    fig.update_xaxes(title_text="step", row=rows, col=1)
    return fig
