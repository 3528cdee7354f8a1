"""The root SavedUserObject.metadata that tf.keras 2.4's SavedModel saver wrote for a compiled
subclassed Model (model.save(dir) with TF 2.1-2.4, which wrote no keras_metadata.pb).

Neither TF <= 2.4 nor tf_keras installs here, so this JSON is SYNTHESIZED, field by field, from
reading TF 2.4's saver (tensorflow/python/keras/saving/saved_model/layer_serialization.py
LayerSavedModelSaver._python_properties_internal, model_serialization.py
ModelSavedModelSaver._python_properties_internal, saving_utils.model_metadata with
require_config=False, Model._get_compile_args(user_metrics=False), json_utils.Encoder), with the
values taken from the Keras 3 model it describes where the two agree (names, from_logits, the
optimizer's hyperparameters) and TF 2.4's own spellings where they differ (loss reduction "auto",
Adam's "decay"/"amsgrad" keys, keras_version "2.4.0"). Shared by gen_savedmodel_corpus.py and
test/ibm-fl-layout/generate.py.
"""
import json
import os

from tensorflow.core.protobuf import saved_model_pb2


def _shape(dims):
    # json_utils.Encoder writes a TensorShape as {"class_name": "TensorShape", "items": [...]}.
    return {"class_name": "TensorShape", "items": list(dims)}


def subclassed_model_metadata(model, input_name, build_shape):
    """TF 2.4's metadata for `model`, compiled with SparseCategoricalCrossentropy (from_logits as
    compiled), Adam and SparseCategoricalAccuracy, built on inputs of `build_shape`."""
    loss = model.loss
    opt = model.optimizer
    metrics = model._compile_config.config["metrics"]
    assert all(type(m).__name__ == "SparseCategoricalAccuracy" for m in metrics), "compile with SparseCategoricalAccuracy objects"
    # TF 2.4 wrote the Python float given to Adam (0.001), Keras 3 keeps a float32 variable.
    lr = float(str(opt.learning_rate.numpy()))
    return {
        # LayerSavedModelSaver._python_properties_internal ("stateful" is popped for models)
        "name": model.name,
        "trainable": True,
        "expects_training_arg": False,  # call(self, x): no `training` argument
        "dtype": "float32",  # policy.serialize of the default policy
        "batch_input_shape": None,  # only layers given an input_shape have one
        "must_restore_from_config": False,
        # ...then get_serialized(obj): serialize_keras_object under skip_failed_serialization;
        # a subclassed model's get_config() raises NotImplementedError, hence this placeholder.
        "class_name": type(model).__name__,
        "config": {"layer was saved without config": True},
        "build_input_shape": _shape(build_shape),  # Layer.build on the first call's shape
        # ModelSavedModelSaver
        "is_graph_network": False,
        "save_spec": {"class_name": "TypeSpec", "type_spec": "tf.TensorSpec", "serialized": [_shape(build_shape), "float32", input_name]},
        # saving_utils.model_metadata(require_config=False)
        "keras_version": "2.4.0",
        "backend": "tensorflow",
        "model_config": {"class_name": type(model).__name__},
        "training_config": {
            "loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": bool(loss.from_logits)}},
            "metrics": [{"class_name": "SparseCategoricalAccuracy", "config": {"name": n, "dtype": "float32"}} for n in [m.name for m in metrics]],
            "weighted_metrics": None,
            "loss_weights": None,
            "optimizer_config": {"class_name": "Adam", "config": {
                "name": "Adam", "learning_rate": lr, "decay": 0.0, "beta_1": float(opt.beta_1),
                "beta_2": float(opt.beta_2), "epsilon": float(opt.epsilon), "amsgrad": bool(opt.amsgrad)}},
        },
    }


def write_root_metadata(saved_model_dir, metadata, identifier="_tf_keras_model"):
    """Puts `metadata` into saved_model.pb's root object as TF 2.4 kept it (SavedUserObject
    {identifier, metadata}); the graph and variables stay as TensorFlow wrote them."""
    pb = os.path.join(saved_model_dir, "saved_model.pb")
    sm = saved_model_pb2.SavedModel()
    with open(pb, "rb") as f:
        sm.ParseFromString(f.read())
    root = sm.meta_graphs[0].object_graph_def.nodes[0]
    root.user_object.identifier = identifier
    root.user_object.metadata = json.dumps(metadata)
    with open(pb, "wb") as f:
        f.write(sm.SerializeToString())
