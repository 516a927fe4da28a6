"""Recovery with stock tools only: the open export of the catalogue carried in every backup."""
