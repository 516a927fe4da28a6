"""Retention schedules, holds, appraisal and witnessed destruction."""
