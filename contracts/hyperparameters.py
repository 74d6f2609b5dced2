"""The training hyperparameters the stack config sets and the training container validates."""

ALGORITHMS = ("logistic_regression", "random_forest", "hist_gradient_boosting")
