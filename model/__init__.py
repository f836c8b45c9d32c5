"""The AU-aware graph network (model/auwgcn.py), its losses, training, evaluation and spotting. Importing the
package loads nothing: the task graph reads the stages' settings (model/settings.py) without torch."""
