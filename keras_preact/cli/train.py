"""`keras-preact train`: train any network of the zoo with the paper's recipe (or a
short-budget one), on any Keras backend, resumably.

    keras-preact train --model preact_resnet164 --data /data/cifar10-jpeg --output runs/r164
    keras-preact train --depth 110 --placement original --data cifar10 --download
    KERAS_BACKEND=jax keras-preact train --model preact_resnet164 --recipe fast \\
        --data /data/cifar10-jpeg --time-budget 480 --output runs/fast
    keras-preact train --output runs/r164 --resume ...same flags...   # after a kill

--data is a tensorflow-datasets name (cifar10, cifar100, imagenet2012) or a folder
laid out split/class/*.jpg. The backend comes from KERAS_BACKEND. The output folder
gets checkpoint/, model.weights.h5, model.json, history.csv/.json, summary.json,
curves.png and (TensorFlow) tensorboard/. Exit status: 0 done or stopped by the time
budget, 2 bad arguments, 3 diverged (non-finite loss), 130 interrupted.
"""

from keras_preact.cli.options import (
    add_model_arguments, epochs, input_error, model_options, non_negative_float,
    non_negative_int, positive_float, positive_int)


def _floats(text):
    return tuple(float(v) for v in text.split(",") if v.strip())


def add_arguments(parser):
    """Adds the subcommand's arguments to an `argparse` parser."""
    add_model_arguments(parser).add_argument(
        "--init-weights", help="start from these weights (path, tag or hf://)")
    data = parser.add_argument_group("data")
    data.add_argument("--data", default="cifar10", help="cifar10, cifar100, imagenet2012 "
                      "(tensorflow-datasets) or a folder split/class/*.jpg (default cifar10)")
    data.add_argument("--data-dir", help="tensorflow-datasets data directory")
    data.add_argument("--download", action="store_true",
                      help="let tensorflow-datasets download and prepare the data")
    data.add_argument("--train-split", default="train", help="split to train on (default train)")
    data.add_argument("--eval-split", help="held-out split (default test / validation)")
    data.add_argument("--image-size", type=positive_int,
                      help="input side (default: the images' own "
                      "for CIFAR-size folders, 224 for ImageNet)")
    data.add_argument("--normalization", default="auto",
                      choices=["auto", "cifar10", "cifar100", "imagenet", "computed"],
                      help="per-channel mean/std (auto: the dataset's; folders of 10/100 "
                      "classes get CIFAR-10/100's)")
    data.add_argument("--limit-train", type=positive_int, help="use a seeded subset of N images")
    data.add_argument("--limit-test", type=positive_int, help="evaluate on a seeded subset of N")
    data.add_argument("--cache-dir", help="cache decoded folders here as .npy")
    data.add_argument("--pipeline", default="auto", choices=["auto", "tf", "numpy"],
                      help="tf.data or numpy batches (auto: tf on TensorFlow, else numpy)")
    recipe = parser.add_argument_group("recipe (every preset value can be overridden)")
    recipe.add_argument("--recipe", default="paper", choices=["paper", "fast"],
                        help="paper: SGD 0.9, coupled L2 1e-4, lr 0.1 (0.01 warm-up 400 it), "
                        "/10 at 32k and 48k of 64k it at batch 128; fast: 30 epochs cosine, "
                        "linear warm-up, Nesterov, label smoothing 0.1, batch 512, bf16 "
                        "where native")
    recipe.add_argument("--epochs", type=epochs,
                        help="training length; 'auto' (with --time-budget and a cosine or "
                        "one-cycle schedule) fits the schedule to the budget")
    recipe.add_argument("--batch-size", type=positive_int,
                        help="global batch (split over replicas)")
    recipe.add_argument("--lr", type=positive_float, help="peak rate at the reference batch")
    recipe.add_argument("--reference-batch", type=positive_int, help="batch that --lr refers to")
    recipe.add_argument("--lr-scaling", choices=["linear", "none"],
                        help="scale --lr with the batch (linear) or not")
    recipe.add_argument("--momentum", type=non_negative_float, help="SGD momentum (0.9)")
    recipe.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum")
    recipe.add_argument("--no-nesterov", dest="nesterov", action="store_false",
                        help="plain momentum")
    recipe.add_argument("--weight-decay", type=non_negative_float,
                        help="coupled L2 (kernel_regularizer L2(wd/2)); 0 disables")
    recipe.add_argument("--schedule", choices=["step", "cosine", "onecycle", "constant"],
                        help="learning-rate schedule")
    recipe.add_argument("--milestones", type=_floats, help="epochs of the step drops, e.g. 82,123")
    recipe.add_argument("--lr-factor", dest="factor", type=float, help="step multiplier (0.1)")
    recipe.add_argument("--warmup-epochs", type=non_negative_float, help="epochs of warm-up")
    recipe.add_argument("--warmup-lr", type=non_negative_float,
                        help="learning rate warm-up starts at")
    recipe.add_argument("--warmup", choices=["constant", "linear"],
                        help="constant or linearly rising warm-up")
    recipe.add_argument("--final-lr", type=non_negative_float,
                        help="learning rate at the end (cosine, one-cycle)")
    recipe.add_argument("--label-smoothing", type=non_negative_float,
                        help="label smoothing (0 disables)")
    recipe.add_argument("--cutout", type=non_negative_int, metavar="PIXELS",
                        help="add Cutout to the CIFAR augmentation: a square of this side "
                        "set to the mean in every training image (16 is usual on "
                        "CIFAR-10; not in the paper; default 0, none)")
    recipe.add_argument("--mixed-precision", choices=["off", "bf16", "fp16", "auto"],
                        help="off (float32), bf16, fp16, or auto: bf16 where native")
    run_group = parser.add_argument_group("run")
    run_group.add_argument("--output", default="runs/train", help="output folder")
    run_group.add_argument("--seed", type=int, default=0,
                           help="seed of init, data order and augmentation (default 0)")
    run_group.add_argument("--strategy", default="default",
                           choices=["default", "mirrored", "multiworker", "multihost"],
                           help="mirrored: all local GPUs (TF MirroredStrategy; JAX "
                           "DataParallel); multihost: several machines (JAX, "
                           "--coordinator/--num-processes/--process-id); multiworker: "
                           "several machines (TensorFlow, each worker with its TF_CONFIG)")
    run_group.add_argument("--coordinator", metavar="HOST:PORT",
                           help="multihost: process 0's address, the same on every host")
    run_group.add_argument("--num-processes", type=positive_int,
                           help="multihost: how many processes (hosts) take part")
    run_group.add_argument("--process-id", type=non_negative_int,
                           help="multihost: this process's rank, 0 .. N-1 (0 writes)")
    run_group.add_argument("--devices", type=lambda s: [d for d in s.split(",") if d],
                           help="comma-separated devices for mirrored, e.g. GPU:0,GPU:1")
    run_group.add_argument("--sync-bn", action="store_true",
                           help="synchronized BN across replicas (TensorFlow only)")
    run_group.add_argument("--resume", action="store_true",
                           help="continue the checkpoint in --output (same flags)")
    run_group.add_argument("--time-budget", type=positive_float, metavar="SECONDS",
                           help="stop after the last whole epoch that fits")
    run_group.add_argument("--steps-per-epoch", type=positive_int,
                           help="cap steps per epoch (dry runs)")
    run_group.add_argument("--steps-per-execution", type=positive_int, default=1,
                           help="training steps per compiled call (default 1)")
    run_group.add_argument("--eval-every", type=non_negative_int, default=1,
                           help="validate every N epochs (0: only at the end)")
    run_group.add_argument("--workers", type=positive_int, help="numpy pipeline threads")
    run_group.add_argument("--verbose", default="auto", type=lambda v: v if v == "auto" else int(v),
                           help="Keras verbosity: auto, 0, 1 (bar) or 2 (line per epoch)")
    run_group.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                           help="do not write TensorBoard logs (history.csv/json and "
                           "curves.png are written anyway)")


RECIPE_FLAGS = ("epochs", "batch_size", "lr", "reference_batch", "lr_scaling", "momentum",
                "nesterov", "weight_decay", "schedule", "milestones", "factor",
                "warmup_epochs", "warmup_lr", "warmup", "final_lr", "label_smoothing",
                "mixed_precision", "cutout")


def config_from_args(args):
    """The `TrainConfig` that parsed arguments describe."""
    from keras_preact.training.loop import TrainConfig

    return TrainConfig(
        output=args.output, model=args.model, depth=args.depth, family=args.family,
        block=args.block, placement=args.placement, shortcut=args.shortcut,
        downsample=args.downsample, stride_at=args.stride_at, model_options=model_options(args),
        init_weights=args.init_weights, data=args.data, data_dir=args.data_dir,
        download=args.download, train_split=args.train_split, eval_split=args.eval_split,
        image_size=args.image_size, normalization=args.normalization,
        limit_train=args.limit_train, limit_test=args.limit_test, cache_dir=args.cache_dir,
        pipeline=args.pipeline, recipe=args.recipe,
        overrides={k: getattr(args, k) for k in RECIPE_FLAGS if getattr(args, k) is not None},
        seed=args.seed, strategy=args.strategy, devices=args.devices, sync_bn=args.sync_bn,
        resume=args.resume, time_budget=args.time_budget, steps_per_epoch=args.steps_per_epoch,
        steps_per_execution=args.steps_per_execution, eval_every=args.eval_every,
        workers=args.workers, verbose=args.verbose, tensorboard=args.tensorboard,
        coordinator=args.coordinator, num_processes=args.num_processes,
        process_id=args.process_id)


def run(args):
    """Runs a training; returns the exit status."""
    from keras_preact.training import loop as training

    try:
        summary = training.train(config_from_args(args))
    except (ValueError, FileNotFoundError) as error:
        return input_error("train", error)
    return {"completed": 0, "time_budget": 0, "nan": 3, "interrupted": 130}[summary["status"]]
