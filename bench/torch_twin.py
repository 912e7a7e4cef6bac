"""A PyTorch CPU twin of dc_gan.py's network and schedule, for the speed benchmark.

Same layers and sizes as the chapter's D and G, Paddle's default initialisation (PyTorch's own makes this
network collapse), Paddle's leaky_relu slope (0.02) and batch-norm momentum, the chapter's double sigmoid,
and the same schedule: one G pass, a D step on fakes, a D step on reals, two G steps. Adam is the fused
kernel, the fastest PyTorch offers on a CPU.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

import dc_gan

LEAKY_SLOPE = 0.02  # Paddle's leaky_relu default
BN_MOMENTUM = 0.1  # Paddle keeps 0.9 of the old moving statistics


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, dc_gan.df_dim, 5)
        self.conv2 = nn.Conv2d(dc_gan.df_dim, dc_gan.df_dim * 2, 5)
        self.bn1 = nn.BatchNorm2d(dc_gan.df_dim * 2, momentum=BN_MOMENTUM)
        self.fc1 = nn.Linear(dc_gan.df_dim * 2 * 4 * 4, dc_gan.dfc_dim)
        self.bn2 = nn.BatchNorm1d(dc_gan.dfc_dim, momentum=BN_MOMENTUM)
        self.fc2 = nn.Linear(dc_gan.dfc_dim, 1)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.max_pool2d(F.leaky_relu(self.conv1(x), LEAKY_SLOPE), 2, 2)
        x = F.max_pool2d(self.conv2(x), 2, 2)
        x = F.leaky_relu(self.bn1(x), LEAKY_SLOPE)
        x = F.leaky_relu(self.bn2(self.fc1(x.flatten(1))), LEAKY_SLOPE)
        return torch.sigmoid(self.fc2(x))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        side = dc_gan.img_dim // 4
        self.fc3 = nn.Linear(dc_gan.NOISE_SIZE, dc_gan.gfc_dim)
        self.bn3 = nn.BatchNorm1d(dc_gan.gfc_dim, momentum=BN_MOMENTUM)
        self.fc4 = nn.Linear(dc_gan.gfc_dim, dc_gan.gf_dim * 2 * side * side)
        self.bn4 = nn.BatchNorm1d(dc_gan.gf_dim * 2 * side * side, momentum=BN_MOMENTUM)
        self.deconv1 = nn.ConvTranspose2d(dc_gan.gf_dim * 2, dc_gan.gf_dim * 2, 5, stride=2,
                                          padding=2, output_padding=1)
        self.deconv2 = nn.ConvTranspose2d(dc_gan.gf_dim * 2, 1, 5, stride=2, padding=2,
                                          output_padding=1)

    def forward(self, x):
        side = dc_gan.img_dim // 4
        x = F.relu(self.bn3(self.fc3(x)))
        x = F.relu(self.bn4(self.fc4(x)))
        x = x.view(-1, dc_gan.gf_dim * 2, side, side)
        x = F.relu(self.deconv1(x))
        x = torch.tanh(self.deconv2(x))
        return x.view(-1, 28 * 28)


def paddle_init(module):
    """Paddle's defaults: conv weights N(0, sqrt(2 / fan_in)); fc and transposed-conv weights Xavier
    uniform over Paddle's fan_in/fan_out; biases 0; batch-norm scale 1, shift 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            fan_in = layer.weight[0].numel()
            nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / fan_in))
        elif isinstance(layer, nn.Linear):
            fan_out, fan_in = layer.weight.shape  # Paddle stores it as [in, out]
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            nn.init.uniform_(layer.weight, -bound, bound)
        elif isinstance(layer, nn.ConvTranspose2d):
            receptive = layer.weight[0, 0].numel()  # weight [in, out, k, k], as Paddle's filter
            fan_in, fan_out = layer.weight.shape[1] * receptive, layer.weight.shape[0] * receptive
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            nn.init.uniform_(layer.weight, -bound, bound)
        else:
            continue
        nn.init.zeros_(layer.bias)
    return module


def loss(x, label):
    return F.binary_cross_entropy_with_logits(x, label)


class Twin:
    def __init__(self, batch_size):
        self.d, self.g = paddle_init(Discriminator()), paddle_init(Generator())
        self.d_opt = torch.optim.Adam(self.d.parameters(), lr=dc_gan.LEARNING_RATE, fused=True)
        self.g_opt = torch.optim.Adam(self.g.parameters(), lr=dc_gan.LEARNING_RATE, fused=True)
        self.ones = torch.ones(batch_size, 1)
        self.zeros = torch.zeros(batch_size, 1)

    def d_step(self, images, labels):
        self.d_opt.zero_grad(set_to_none=True)
        d_loss = loss(self.d(images), labels)
        d_loss.backward()
        self.d_opt.step()
        return d_loss.item()

    def train_batch(self, real_image):
        """dc_gan.train_batch's schedule, on torch tensors."""
        n = real_image.shape[0]
        with torch.no_grad():
            generated_image = self.g(torch.empty(n, dc_gan.NOISE_SIZE).uniform_(-1, 1))
        d_loss_n = self.d_step(generated_image, self.zeros) + self.d_step(real_image, self.ones)
        dg_losses = []
        self.d.requires_grad_(False)  # G's steps need gradients through D, not D's own
        for _ in range(dc_gan.NUM_TRAIN_TIMES_OF_DG):
            self.g_opt.zero_grad(set_to_none=True)
            dg_loss = loss(self.d(self.g(torch.empty(n, dc_gan.NOISE_SIZE).uniform_(-1, 1))),
                           self.ones)
            dg_loss.backward()
            self.g_opt.step()
            dg_losses.append(dg_loss.item())
        self.d.requires_grad_(True)
        return d_loss_n, dg_losses
