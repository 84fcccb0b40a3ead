"""Charts rendered to PNG and embedded in Dagster metadata as markdown images."""

import base64
import io

import dagster as dg
import numpy as np
import pandas as pd


def pyplot():
    """matplotlib's pyplot, drawing off-screen (no display on servers). Imported on first use: every Dagster step
    process loads the modules that chart, and most of them never draw (pyplot costs over a second to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_base64(fig, dpi: int = 80) -> str:
    """The figure as a base64 PNG (for a data: URI), closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _to_markdown_image(fig) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![chart](data:image/png;base64,{png_base64(fig)})")


def segments_chart(profiles: pd.DataFrame, X: np.ndarray, macro_labels: np.ndarray, seed: int) -> dg.MetadataValue:
    """Left: micro segment sizes, coloured by macro. Right: a 2-D PCA projection of a sample."""
    from sklearn.decomposition import PCA

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    micro = profiles[profiles["level"] == "micro"].sort_values("segment_id")
    macros = sorted(profiles.loc[profiles["level"] == "macro", "segment_id"])
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(macros)}
    left.barh(micro["segment_id"], micro["customers"], color=[colours[p] for p in micro["parent_segment_id"]])
    left.invert_yaxis()
    left.set_xlabel("customers")
    left.set_title("Micro segment sizes (colour = macro segment)")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), size=min(len(X), 3000), replace=False)
    xy = PCA(n_components=2, random_state=seed).fit_transform(X[idx])
    for m in macros:
        sel = macro_labels[idx] == m
        right.scatter(xy[sel, 0], xy[sel, 1], s=4, alpha=0.5, color=colours[m], label=m)
    right.legend(markerscale=4, fontsize=8)
    right.set_title("Macro segments, PCA projection of the prepared features")
    return _to_markdown_image(fig)


def migration_chart(moves: pd.DataFrame) -> dg.MetadataValue:
    """Customers from each segment (rows, previous result) to each segment (columns, this result)."""
    return _to_markdown_image(migration_figure(moves))


def migration_figure(moves: pd.DataFrame):
    """The migration grid as a matplotlib figure (the report embeds it too)."""
    grid = moves.pivot_table(index="from_segment_id", columns="to_segment_id", values="customers", aggfunc="sum",
                             fill_value=0)
    fig, ax = pyplot().subplots(figsize=(max(6, 0.45 * grid.shape[1] + 2), max(4, 0.35 * grid.shape[0] + 1.5)))
    ax.imshow(np.log1p(grid.to_numpy()), cmap="Blues", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=7)
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        if value:
            ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=6)
    ax.set_xlabel("segment now")
    ax.set_ylabel("segment in the previous result")
    ax.set_title("Migrations since the previous result (stays on the diagonal)")
    return fig
