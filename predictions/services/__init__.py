"""Writes of the predictions app: model versions and their artifacts (`models`), training and promotion
(`training`), prediction runs (`runs`) and drift (`drift`). The ML itself is plain Python in `predictions/ml/`."""
