"""Above every package of steps: the complete step registry and the policies made from it."""
