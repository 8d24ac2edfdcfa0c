from modeling import ModelBuilder

model = ModelBuilder("shop")
sales = model.context("Sales")
raise RuntimeError("the model could not be built")
