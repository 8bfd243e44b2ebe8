"""What tests/test_distribution.py runs under `mpiexec -n K python -m mpi4py tests/mpi_worker.py SCENARIO OUT`
(and once alone, without MPI, for the single-process answer). Each rank writes what it ends with to OUT."""
import json
import sys
from pathlib import Path

import numpy as np

from clearcnn import distribution
from clearcnn.callbacks import EarlyStopping, ModelCheckpoint
from clearcnn.layers import Dropout
from clearcnn.models import Sequential
from clearcnn.presets import seed_layers
from clearcnn.utils import set_random_seed


def seed_cnn_with_dropout(optimizer):
    set_random_seed(7)
    layers = seed_layers(3)
    layers.insert(-2, Dropout(0.3))  # before the dense layers
    model = Sequential(layers)
    model.build((None, 32, 32, 3))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(count=60):
    rng = np.random.default_rng(3)
    return rng.uniform(0, 1, (count, 32, 32, 3)).astype("float32"), rng.integers(0, 3, count)


def main(scenario, out, distributed):
    out = Path(out)
    rank = 0
    if distributed:
        strategy = distribution.DataParallel()
        distribution.set_distribution(strategy)
        rank = strategy.rank
    x, y = data()
    if scenario in ("sgd", "adam"):
        from clearcnn.optimizers import SGD, Adam
        optimizer = SGD(0.05, momentum=0.9) if scenario == "sgd" else Adam(0.003)
        model = seed_cnn_with_dropout(optimizer)
        history = model.fit(x, y, batch_size=12, epochs=2, verbose=0)  # 60 = 5 batches of 12: one of 12 / K
        loss, accuracy = model.evaluate(x[:50], y[:50], batch_size=20, verbose=0)  # a last batch of 10
        predictions = model.predict(x[:7], batch_size=4, verbose=0)  # a last batch of 3: a rank with nothing
        np.savez(out / f"rank{rank}.npz", *model.get_weights(), predictions=predictions)
        (out / f"rank{rank}.json").write_text(json.dumps({"evaluate": [loss, accuracy],
                                                          "history": history.history}))
    elif scenario == "activity":  # a penalty on outputs, whose derivative is a mean over the whole batch
        from clearcnn.layers import Conv2D, Dense, Flatten
        from clearcnn.regularizers import L2
        set_random_seed(5)
        model = Sequential([Conv2D(4, 3, activation="relu", activity_regularizer=L2(1e-3)), Flatten(),
                            Dense(3, activity_regularizer=L2(1e-2))])
        model.build((None, 32, 32, 3))
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=12, epochs=2, verbose=0, shuffle=False)
        np.savez(out / f"rank{rank}.npz", *model.get_weights())
        (out / f"rank{rank}.json").write_text(json.dumps({"evaluate": [model.evaluate(x, y, verbose=0)],
                                                          "history": history.history}))
    elif scenario == "checkpoint":
        model = seed_cnn_with_dropout("adam")
        model.fit(x, y, batch_size=12, epochs=3, verbose=1,
                  callbacks=[ModelCheckpoint(str(out / "m-{epoch}.clearcnn")), EarlyStopping("loss", patience=0)])
        model.save(out / "final.clearcnn")
    elif scenario == "resume":  # a checkpoint written by another number of ranks, trained on by this many
        from clearcnn.models import load_model
        model = load_model(out / "m-1.clearcnn")
        model.fit(x, y, batch_size=12, epochs=1, verbose=0)
        np.savez(out / f"resumed{rank}.npz", *model.get_weights())
    elif scenario == "fault":
        model = seed_cnn_with_dropout("sgd")

        class Fails(ModelCheckpoint):
            writes_files = False

            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1 and rank == 1:
                    raise RuntimeError("rank 1 fails in epoch 2")

        model.fit(x, y, batch_size=12, epochs=50, verbose=0, callbacks=[Fails(str(out / "never"))])
    elif scenario == "indivisible":
        model = seed_cnn_with_dropout("sgd")
        try:
            model.fit(x, y, batch_size=7, epochs=1, verbose=0)
        except Exception as error:
            (out / f"error{rank}.txt").write_text(f"{type(error).__name__}: {error}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], distributed=sys.argv[3:] != ["alone"])
