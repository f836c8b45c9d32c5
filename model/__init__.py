from model.auwgcn import AUWGCN, decay_parameter_groups  # noqa: F401
