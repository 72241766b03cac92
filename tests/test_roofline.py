"""The bench's roofline: FLOPs counted from the built models against a count by hand."""

import pytest

from gan_keras.roofline import cpu_description, forward_flops, iteration_flops
from gan_keras.training.gan import build_gan


def test_notebook_dcgan_flops_match_a_hand_count():
    models = build_gan(100)
    per_image_g = (2 * 100 * 7 * 7 * 128           # Dense 100 -> 7x7x128
                   + 2 * 7 * 7 * 9 * 128 * 128     # ConvT 7x7x128 -> 14x14x128: each input pixel, a 3x3 patch
                   + 2 * 14 * 14 * 9 * 128 * 64    # ConvT 14x14x128 -> 28x28x64
                   + 2 * 28 * 28 * 9 * 64 * 1)     # ConvT 28x28x64 -> 28x28x1, stride 1
    per_image_d = (2 * 14 * 14 * 9 * 1 * 64        # Conv 28x28x1 -> 14x14x64: each output pixel, a 3x3 patch
                   + 2 * 7 * 7 * 9 * 64 * 128      # Conv 14x14x64 -> 7x7x128
                   + 2 * 7 * 7 * 128 * 1)          # Dense 6272 -> 1
    assert forward_flops(models.generator, 32) == 32 * per_image_g == 1_456_308_224
    assert forward_flops(models.discriminator, 32) == 32 * per_image_d
    assert iteration_flops(models, 32) == 32 * (4 * per_image_g + 9 * per_image_d)


def test_cpu_description_reads_the_first_cpu_s_model_and_the_flags_that_matter():
    text = ("processor\t: 0\nmodel name\t: A Fancy CPU @ 2.0GHz\nflags\t\t: fpu avx2 sse4_2 avx512f amx_tile\n\n"
            "processor\t: 1\nmodel name\t: Another CPU\nflags\t\t: fpu\n")
    assert cpu_description(text) == ("A Fancy CPU @ 2.0GHz", ["avx2", "avx512f", "amx_tile"])
    assert cpu_description("") == ("unknown CPU", [])


@pytest.mark.slow
@pytest.mark.parametrize("interleave", [[], ["--interleave"]])
def test_bench_prints_the_roofline_and_an_efficiency_per_variant(small_mnist, capsys, interleave):
    import bench

    bench.main(["--data", small_mnist, "--warmup", "1", "--iterations", "12", "--repeats", "2",
                "--only", "(b),1 it/call", *interleave])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("CPU: ") for line in lines)
    assert any(line.startswith("roofline: a 2048 x 2048 matmul runs at ") for line in lines)
    rows = [line for line in lines if line.startswith("(b)") or line.startswith("(c)")]
    assert [row[:28].strip() for row in rows] == ["(b) default: fast step", "(c) fast fp32, 1 it/call"]
    for row in rows:
        batch, dtype, ms, *_, limit, efficiency = row[28:].split()
        assert batch == "32" and dtype in ("fp32", "bf16") and float(ms) > 0 and float(limit) > 0
        assert efficiency.endswith("%")
