"""Definition layer: workflow files -> validated, frozen models -> compiled workflows."""
