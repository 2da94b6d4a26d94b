import json

from myovision.cli import main


def test_profile_json_counts_a_block(capsys):
    args = ["profile", "--model", "conv3d_block", "--kw", "in_channels=4", "--kw", "out_channels=6",
            "--kw", "temporal_kernel=3", "--input", "1,4,3,5,5", "--json", "--repeats", "1"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"params", "macs", "memory_mb", "latency_ms"} <= set(out)
    assert out["macs"] == 3 * 3 * 5**2 * 3**2 * 4 * 6 and out["params"] == 3 * 9 * 4 * 6


def test_profile_table_of_the_five_frontends(capsys):
    assert main(["profile", "--model", "lipread-frontends", "--input", "1,1,5,16,16", "--repeats", "0"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["resnet18_3dstem", "all3d", "p3d", "sti3d", "stires3d"]
    assert err.startswith("profiling stires3d: 5/5 pass")  # progress: one MACs pass per model, no timing


def test_profile_bad_input_is_one_line_and_exit_2(capsys):
    for args in (["--model", "stires3d", "--input", "1,1,3,16,16"],  # shorter than the stem's kernel
                 ["--model", "stires3d", "--input", "1,1,x"],
                 ["--model", "no_such_model", "--input", "1,1,8,16,16"],
                 ["--model", "stires3d", "--kw", "omega", "--input", "1,1,8,16,16"]):
        assert main(["profile", *args, "--repeats", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("myovision: error:") and "\n" not in err


def test_profile_help_has_an_example(capsys):
    try:
        main(["profile", "--help"])
    except SystemExit:
        pass
    assert "example:" in capsys.readouterr().out
