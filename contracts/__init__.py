"""Names and shapes that infra, training and inference share: dependency-free, standard library only."""
