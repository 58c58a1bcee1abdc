import plotly.graph_objects as go
import streamlit as st

from explorer.card import CONDITION_LABELS
from explorer.corruption import GaussianNoise
from explorer.lesson import TEMPLATES, start_lesson
from explorer.runs import S3_CORRUPTIONS
from ui.active_model import open_from_board
from ui.board import board_table, comparable_runs, current_lesson, moderation, teacher_key
from ui.display import image_row, line_chart, listing, markdown_table
from ui.entry import start_page
from ui.maps import add_trail, class_map
from ui.resources import run_store, stored_workbench
from ui.training_run import submit
from ui.workspace import TEACHER_PARAM, save, workspace

start_page("pages/board.py")
REFRESH_SECONDS = 4.0  # new runs may join at any moment, so the board always polls
MAP_POINTS, TRAIL_IMAGES, SWEEP_IMAGES = 400, 150, 200
SWEEP_LEVELS = [0.0, 0.1, 0.3, 0.5, 0.8, 1.0]
MAP_METHODS = {"PCA": ("pca", {}), "t-SNE": ("tsne", {"perplexity": 30.0})}
FIGURE_COLUMNS = ("who", "group", "run", "model", "data", "corruption", "epochs", "state")

lesson = current_lesson()
kept = workspace()
if lesson is None:
    st.write("A class board puts the runs of a lesson side by side: each group trains one variant, everyone sees "
             "every run's figures as it finishes, and anyone can compare runs or explore one. Start a lesson, then "
             "share its link; the board shows only that lesson's runs.")
    template = st.selectbox("Template", ["none", *TEMPLATES], help="S3 in class: six groups, one training corruption "
                            "each. S2 in class: three groups, 4, 7 or 10 classes. Each group trains with one click.")
    if not st.button("Start a lesson"):  # not "primary": white on the dark theme's light violet is 2.4:1
        st.stop()
    lesson, key = start_lesson(run_store(), None if template == "none" else template)
    kept.lesson = lesson.code
    save(kept)
    st.query_params.update({"lesson": lesson.code, TEACHER_PARAM: key})

links = st.columns(2)
with links[0].popover("Link for the class", icon=":material/link:"):
    st.code(f"{st.context.url or ''}?lesson={lesson.code}", language=None, wrap_lines=True)
    st.caption("Students who open it join this lesson (their runs go on this board). It does not open your workspace.")
teacher = lesson.is_teacher(teacher_key())
if teacher:
    with links[1].popover("Your teacher link", icon=":material/key:"):
        st.code(f"{st.context.url or ''}?lesson={lesson.code}&{TEACHER_PARAM}={teacher_key()}", language=None,
                wrap_lines=True)
        st.caption("Keep it to yourself: it lets you moderate this board (hide a name, rename or remove a run, end "
                   "the lesson). The class link and Copy link to this view never carry it.")
if lesson.ended:
    st.info("This lesson has ended: its board stays as it was, and new runs no longer join it.")
st.session_state.setdefault("board_nickname", kept.nickname)
nickname = st.text_input("Your name on the board", key="board_nickname", max_chars=40, placeholder="anonymous")
if nickname.strip() != kept.nickname:
    kept.nickname = nickname.strip()
    save(kept)

if lesson.groups() and not lesson.ended:
    st.subheader(f"{lesson.template}: one click per group")
    columns = st.columns(3)
    for position, (group, request) in enumerate(lesson.groups().items()):
        if columns[position % 3].button(f"Train: {group}", key=f"group-{position}"):
            try:
                submit(request, group)
            except ValueError as error:
                st.error(f"Cannot start training: {error}")


def draw_board(page_run: dict) -> dict[str, str]:
    """The board, redrawn every few seconds; returns the runs Compare may offer (by id, with their names).
    ``page_run`` is the page run's own (the fragment's reruns get the same object): a rerun that finds runs
    ended since the page last ran reruns the whole page, so Compare offers them."""
    shown = current_lesson()
    table = board_table(shown)
    if shown.damaged:
        one = shown.damaged == 1
        st.caption(f"{shown.damaged} entr{'y' if one else 'ies'} of this board could not be read and "
                   f"{'is' if one else 'are'} left out.")
    comparable = comparable_runs(table)
    if comparable != page_run.setdefault("comparable", comparable):
        st.rerun()
    if not len(table):
        st.info("No runs on the board yet: runs trained in this lesson appear here as they start.")
        return comparable
    st.dataframe(table.drop(columns=["id", "comparable"]), hide_index=True, width="stretch", column_config={
        "validation loss": st.column_config.LineChartColumn("validation loss", width="small"),
        **{column: st.column_config.NumberColumn(column, format="%.3f") for column in table.columns
           if column not in FIGURE_COLUMNS and column not in ("validation loss", "id", "comparable")}})
    if lesson.template == "S3 in class":
        s3_table(table[table["comparable"]])
    return comparable


def s3_table(done) -> None:
    """The seed's table as the class measured it: one row per training corruption, SSIM under each test condition."""
    order = {("none" if c == "clean" else c): i for i, c in enumerate(S3_CORRUPTIONS)}
    rows = {f"trained on {CONDITION_LABELS.get(row.corruption, 'clean') if row.corruption != 'none' else 'clean'}":
            {text: row.get(f"SSIM {text}") for text in CONDITION_LABELS.values()}
            for _, row in sorted(done.iterrows(), key=lambda item: order.get(item[1].corruption, len(order)))}
    if rows:
        st.caption("S3 in class: SSIM on the test images under each corruption (columns), one row per training "
                   "corruption; the best of each column in bold. The seed found small noise and erasing help, large "
                   "noise hurts.")
        st.markdown(markdown_table(rows, bold_best=True))


st.subheader("The board")
names = st.fragment(draw_board, run_every=REFRESH_SECONDS)({})
done = list(names)
st.subheader("Compare runs")
chosen = st.multiselect("Runs to compare (two to six finished runs)", done, format_func=names.get, max_selections=6,
                        key="compare_runs")
if len(chosen) >= 2:
    sigma = st.slider("Gaussian sigma for the trails and the reconstructions", 0.0, 1.0, 0.3, 0.05, key="compare_sigma")
    method = st.radio("Maps", list(MAP_METHODS), horizontal=True, key="compare_method",
                      help="t-SNE of each run's test images, as the seed S3 drew one per corruption")
    workbenches = {run: stored_workbench(run) for run in chosen}
    decoders = [run for run in chosen if workbenches[run].can_decode]
    if decoders:
        st.caption("The same first 8 test images, corrupted, then reconstructed by each run")
        first = workbenches[decoders[0]]
        shown = first.names_of(range(8))
        image_row(first.reconstruct(list(range(8)), GaussianNoise(sigma) if sigma else None)[0],
                  listing(f"test images with Gaussian noise of sigma {sigma:.2f}", shown), width=56)
        for run in decoders:
            st.caption(names.get(run, run))
            _, outputs, scores = workbenches[run].reconstruct(list(range(8)), GaussianNoise(sigma) if sigma else None)
            image_row(outputs, listing(f"reconstructions by {names.get(run, run)}, mean SSIM "
                                       f"{scores['ssim'].mean():.3f}", shown), width=56)
        sweep = go.Figure()
        for run in decoders:
            sweep.add_scatter(x=SWEEP_LEVELS, y=workbenches[run].noise_sweep("gaussian", SWEEP_LEVELS, SWEEP_IMAGES),
                              mode="lines+markers", name=names.get(run, run))
        sweep.update_layout(xaxis_title="sigma", yaxis_title=f"mean SSIM ({SWEEP_IMAGES} test images)", height=340,
                            margin=dict(t=20))
        line_chart(sweep, f"Mean SSIM of {SWEEP_IMAGES} test images against Gaussian sigma, one line per run")
    maps = st.columns(min(3, len(chosen)))
    for position, run in enumerate(chosen):
        workbench = workbenches[run]
        count = min(MAP_POINTS, len(workbench.pool))
        result = workbench.project(*MAP_METHODS[method], count)
        figure = class_map(result.coordinates, workbench.labels(count), workbench.class_names,
                           workbench.ssim_scores(count), height=380,
                           title=f"{names.get(run, run)}, {method}", faded=workbench.can_decode and sigma > 0)
        if workbench.can_decode and sigma > 0:
            add_trail(figure, workbench.trail(result, GaussianNoise(sigma), 0, TRAIL_IMAGES))
        with maps[position % len(maps)]:
            st.plotly_chart(figure, width="stretch", key=f"compare-map-{run}",
                            alt=f"{method} map of {names.get(run, run)}'s test images coloured by class")
            st.button("Open as the active model", key=f"open-{run}", on_click=open_from_board, args=(run,))

if teacher:
    moderation(lesson)
