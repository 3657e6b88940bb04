"""Offline evaluation: replay labelled streams through the scorer's selection and model code."""
