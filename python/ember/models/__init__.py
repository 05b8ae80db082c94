"""`ember.models`: Model and Sequential, clone_model, load_model and save_model."""

from ember.models.cloning import clone_model
from ember.models.model import Model
from ember.models.sequential import Sequential
from ember.saving.saving_api import load_model, model_from_json, save_model

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
