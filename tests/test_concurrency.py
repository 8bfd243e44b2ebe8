"""One model shared by several threads, as a web server shares it: predictions from many threads at once give
exactly the answers of one thread, on both backends; training from two threads at once is refused clearly;
predicting while another thread trains leaves the training's arithmetic alone; BLAS gets its threads back."""
import threading

import numpy as np
import pytest

from clearcnn import ClearCNNError, ops
from clearcnn.callbacks import Callback
from clearcnn.layers import AveragePooling2D, Conv2D, Dense, Flatten, MaxPooling2D
from clearcnn.models import Sequential
from clearcnn.ops.fast import parallel

THREADS = 4


def shared_model(seed=0):
    """Every kind of kernel: Winograd (3x3 same), im2col (5x5), both poolings, dense."""
    model = Sequential([Conv2D(8, 3, padding="same", activation="relu", input_shape=(12, 12, 3)),
                        Conv2D(8, 5, activation="tanh"), MaxPooling2D(2), AveragePooling2D(2, padding="same"),
                        Flatten(), Dense(6, activation="softmax")])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.4 for w in model.get_weights()])
    return model


def run_in_threads(work, count=THREADS):
    """work(index) in `count` threads started together; their errors are raised here."""
    start, errors = threading.Barrier(count), []

    def target(index):
        try:
            start.wait()
            work(index)
        except BaseException as error:  # noqa: BLE001 - handed to the test below
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("batch", [1, 3, 16])
def test_threads_predicting_on_one_model_get_the_single_thread_answers(batch):
    model = shared_model()
    rng = np.random.default_rng(1)
    inputs = [rng.random((batch, 12, 12, 3), dtype=np.float32) for _ in range(THREADS)]
    expected = [model.predict(x, verbose=0) for x in inputs]
    answers = {i: [] for i in range(THREADS)}

    def work(index):
        for _ in range(25):
            answers[index].append(model.predict(inputs[index], verbose=0))

    run_in_threads(work)
    for index in range(THREADS):
        for answer in answers[index]:
            np.testing.assert_array_equal(answer, expected[index])


def test_two_threads_training_one_model_get_a_clear_error():
    model = shared_model()
    model.compile("sgd", "categorical_crossentropy")
    x, y = np.random.default_rng(2).random((8, 12, 12, 3), dtype=np.float32), np.eye(6)[np.arange(8) % 6]
    inside, release = threading.Event(), threading.Event()

    class Hold(Callback):  # keeps the first fit running until the test has tried the second
        def on_train_batch_end(self, *args, **kwargs):
            inside.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=lambda: model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Hold()]))
    thread.start()
    try:
        assert inside.wait(timeout=60)
        with pytest.raises(ClearCNNError, match="another thread trains this model"):
            model.train_on_batch(x, y)
        with pytest.raises(ClearCNNError, match="another thread trains this model"):
            model.fit(x, y, verbose=0)
    finally:
        release.set()
        thread.join(timeout=60)
    model.train_on_batch(x, y)  # free again afterwards


@pytest.mark.usefixtures("engine_backend")
def test_predicting_while_another_thread_trains_leaves_the_training_alone():
    """Each layer keeps its forward pass's state per thread: predictions in between do not change the
    gradients of the training thread."""
    x = np.random.default_rng(3).random((16, 12, 12, 3), dtype=np.float32)
    y = np.eye(6)[np.arange(16) % 6]
    finals = []
    for predicting in (False, True):
        model = shared_model(seed=4)
        model.compile("sgd", "categorical_crossentropy")
        done = threading.Event()

        def predict_until_done(index, model=model, done=done, predicting=predicting):
            if index == 0:
                for _ in range(15):
                    model.train_on_batch(x, y)
                done.set()
            elif predicting:
                while not done.is_set():
                    model.predict(x[:5], verbose=0)

        run_in_threads(predict_until_done, count=3)
        finals.append(model.get_weights())
    for alone, shared in zip(*finals):
        np.testing.assert_array_equal(shared, alone)


@pytest.mark.skipif(not parallel.available(), reason="the pool needs threadpoolctl, Numba and two cores")
def test_blas_gets_its_threads_back_after_threads_overlap_in_the_engine():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    entered, first_out = threading.Barrier(2), threading.Event()

    def work(index):
        with parallel.engine_threads():
            entered.wait(timeout=30)
            if index == 1:  # the first thread has left; this one is still inside
                assert first_out.wait(timeout=30)
                assert all(threads == 1 for threads in blas_threads())
        first_out.set()

    previous = ops.get_backend()
    ops.set_backend("fast")
    try:
        run_in_threads(work, count=2)
    finally:
        ops.set_backend(previous)
    assert blas_threads() == before
