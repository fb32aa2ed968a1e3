"""Casework's pure rules: the task table, case files (tasks and timeline) and leave cover."""
