"""Train the demo model: multinomial logistic regression on Fisher's Iris data.

Pure Python, deterministic, runs at image build time (under a second) and
writes model.json next to itself. The data is Fisher's 1936 Iris measurements
(150 flowers, 4 features, 3 species), a public-domain data set.
"""
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    features = [name for name in rows[0] if name != "species"]
    classes = sorted({row["species"] for row in rows})
    x = [[float(row[name]) for name in features] for row in rows]
    y = [classes.index(row["species"]) for row in rows]
    return features, classes, x, y


def softmax(z):
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


def train(x, y, n_classes, epochs=400, rate=0.5, l2=1e-3):
    n, d = len(x), len(x[0])
    mean = [sum(row[j] for row in x) / n for j in range(d)]
    std = [math.sqrt(sum((row[j] - mean[j]) ** 2 for row in x) / n) or 1.0 for j in range(d)]
    xs = [[(row[j] - mean[j]) / std[j] for j in range(d)] for row in x]
    w = [[0.0] * d for _k in range(n_classes)]
    b = [0.0] * n_classes
    for _epoch in range(epochs):
        gw = [[0.0] * d for _k in range(n_classes)]
        gb = [0.0] * n_classes
        for row, label in zip(xs, y):
            p = softmax([sum(wk[j] * row[j] for j in range(d)) + bk for wk, bk in zip(w, b)])
            for k in range(n_classes):
                err = p[k] - (1.0 if k == label else 0.0)
                gb[k] += err
                for j in range(d):
                    gw[k][j] += err * row[j]
        for k in range(n_classes):
            b[k] -= rate * gb[k] / n
            for j in range(d):
                w[k][j] -= rate * (gw[k][j] / n + l2 * w[k][j])
    return dict(mean=mean, std=std, weights=w, bias=b)


def main():
    features, classes, x, y = load(os.path.join(HERE, "iris.csv"))
    model = train(x, y, len(classes))
    model.update(features=features, classes=classes, name="iris-logreg")
    correct = 0
    for row, label in zip(x, y):
        z = [(row[j] - model["mean"][j]) / model["std"][j] for j in range(len(row))]
        scores = [sum(wk[j] * z[j] for j in range(len(z))) + bk for wk, bk in zip(model["weights"], model["bias"])]
        correct += scores.index(max(scores)) == label
    model["training_accuracy"] = correct / len(y)
    with open(os.path.join(HERE, "model.json"), "w", encoding="utf-8") as handle:
        json.dump(model, handle, indent=1)
    print("trained %s: training accuracy %.3f" % (model["name"], model["training_accuracy"]))
    if model["training_accuracy"] < 0.9:
        sys.exit("the model did not learn; refusing to ship it")


if __name__ == "__main__":
    main()
