import time, sys
from autograd_lite.data import load_mnist, batches
from autograd_lite.nn import MLP
from autograd_lite.losses import cross_entropy
from autograd_lite.optim import Adam
from autograd_lite.compile import compile_loss
X_train, y_train, X_test, y_test = load_mnist()
H=int(sys.argv[1]); E=int(sys.argv[2]); B=int(sys.argv[3]); lr=float(sys.argv[4])
for seed in range(2):
    t=time.process_time()
    model = MLP(784, [H, 10], init="he", seed=seed)
    step = compile_loss(model, cross_entropy, X_train[0], y_train[0])
    print("compile", time.process_time()-t)
    opt = Adam(model.parameters(), lr=lr)
    with step.trainer(opt) as train:
        for epoch in range(E):
            t1=time.process_time()
            for xb, yb in batches(X_train, y_train, B, seed=seed*100+epoch):
                train.step(xb, yb)
            print("epoch", time.process_time()-t1)
        out = step.forward(X_test)
    acc = sum(max(range(10), key=o.__getitem__)==t for o,t in zip(out,y_test))/len(y_test)
    print(seed, acc, time.process_time()-t)
