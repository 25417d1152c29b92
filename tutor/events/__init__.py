"""Answers coming in: the intake that stores them and replays mastery, and xAPI statements; `/v1/events` and `/v1/xapi/statements`."""
