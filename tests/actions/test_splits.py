import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myovision.errors import InputError
from myovision.actions.splits import authors_split, make_split, protocol_folds


def dataset(n_groups=30, per_group=4, n_classes=5, n_subjects=3, seed=0):
    rng = np.random.default_rng(seed)
    group_label = rng.integers(0, n_classes, n_groups)
    groups = np.repeat(np.arange(n_groups), per_group)
    labels = group_label[groups]
    subjects = np.array([f"S{g % n_subjects}" for g in groups])
    return labels, groups, subjects


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000), st.sampled_from(["activity", "subject", "random"]))
def test_sides_partition_the_samples(seed, protocol):
    labels, groups, subjects = dataset(seed=seed)
    s = make_split(protocol, labels=labels, groups=groups, subjects=subjects, seed=seed)
    together = np.concatenate([s.train, s.val, s.test])
    assert sorted(together) == list(range(len(labels)))  # every sample once


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000))
def test_activity_split_never_puts_one_instance_on_two_sides(seed):
    labels, groups, subjects = dataset(seed=seed)
    s = make_split("activity", labels=labels, groups=groups, subjects=subjects, seed=seed)
    sides = [set(groups[s.train]), set(groups[s.val]), set(groups[s.test])]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_subject_split_holds_out_whole_people():
    labels, groups, subjects = dataset()
    s = make_split("subject", labels=labels, groups=groups, subjects=subjects, test_subjects=["S1"])
    assert set(subjects[s.test]) == {"S1"} and "S1" not in set(subjects[s.train]) | set(subjects[s.val])
    with pytest.raises(InputError, match="proper subset"):
        make_split("subject", labels=labels, groups=groups, subjects=subjects, test_subjects=["S0", "S1", "S2"])


def test_random_split_leaks_instances_as_the_authors_did():
    labels, groups, subjects = dataset(per_group=10)
    s = make_split("random", labels=labels, groups=groups, subjects=subjects, seed=0)
    assert set(groups[s.train]) & set(groups[s.test])  # the leak the honest protocols avoid
    with pytest.raises(InputError, match="unknown split"):
        make_split("leaky", labels=labels, groups=groups, subjects=subjects)


def test_loso_tests_every_subject_exactly_once():
    labels, groups, subjects = dataset()
    folds = protocol_folds("loso", labels=labels, groups=groups, subjects=subjects, seed=0)
    assert [name for name, _ in folds] == ["S0", "S1", "S2"]
    tested = np.concatenate([s.test for _, s in folds])
    assert sorted(tested) == list(range(len(labels)))
    for name, s in folds:
        assert set(subjects[s.test]) == {name} and name not in set(subjects[np.concatenate([s.train, s.val])])
    with pytest.raises(InputError, match="two or more subjects"):
        protocol_folds("loso", labels=labels, groups=groups, subjects=np.full(len(labels), "S0"))


def authors_tables(folder, subjects, per_subject, labels_text, test_every=3):
    """Split tables in the authors' global numbering: subjects in order, sub-actions in time order."""
    rows = [(g, labels_text[g]) for g in range(len(subjects) * per_subject)]
    for side, keep in (("train", lambda g: g % test_every), ("test", lambda g: not g % test_every)):
        lines = ["uid,label,verb_class"] + [f"{g},{text},0" for g, text in rows if keep(g)]
        (folder / f"split_S04S07S08_{side}.csv").write_text("\n".join(lines) + "\n")


def authors_samples(per_subject=9, shuffle_seed=0):
    subjects_order = ("S04", "S07", "S08")
    uid = np.array([f"{s}_{k:03d}" for s in subjects_order for k in range(1, per_subject + 1)])
    subjects = np.array([u[:3] for u in uid])
    label = np.array([f"act{(g // 3) % 4}" for g in range(len(uid))])
    perm = np.random.default_rng(shuffle_seed).permutation(len(uid))  # samples need not come in table order
    return uid[perm], subjects[perm], label[perm], label


def test_authors_split_maps_global_uids_onto_subject_samples(tmp_path):
    uid, subjects, label, table_labels = authors_samples()
    authors_tables(tmp_path, ("S04", "S07", "S08"), 9, table_labels)
    labels = np.unique(label, return_inverse=True)[1]
    groups = np.array([f"{u[:3]}/{(int(u[4:]) - 1) // 3}" for u in uid])
    s = authors_split(uid, subjects, label, labels, groups, tmp_path, seed=0)
    # global uid g is subject g // 9's sub-action g % 9 + 1; the tables put every third one in test
    expected_test = {f"{('S04', 'S07', 'S08')[g // 9]}_{g % 9 + 1:03d}" for g in range(27) if g % 3 == 0}
    assert set(uid[s.test]) == expected_test
    assert sorted(np.concatenate([s.train, s.val, s.test])) == list(range(27))


def test_authors_split_refuses_other_recordings(tmp_path):
    uid, subjects, label, table_labels = authors_samples()
    authors_tables(tmp_path, ("S04", "S07", "S08"), 9, table_labels)
    labels = np.unique(label, return_inverse=True)[1]
    groups = uid
    with pytest.raises(InputError, match="recordings give 24"):
        keep = subjects != "S08"
        keep[np.flatnonzero(subjects == "S08")[:6]] = True
        authors_split(uid[keep], subjects[keep], label[keep], labels[keep], groups[keep], tmp_path)
    wrong = label.copy()
    wrong[uid == "S07_002"] = "something else"
    with pytest.raises(InputError, match="other labels.*S07_002") as err:
        authors_split(uid, subjects, wrong, labels, groups, tmp_path)
    assert "split_S04S07S08_" in str(err.value)


def test_authors_split_tables_must_resolve_inside_the_data_folder(tmp_path):
    uid, subjects, label, table_labels = authors_samples()
    elsewhere, data = tmp_path / "elsewhere", tmp_path / "data"
    elsewhere.mkdir()
    data.mkdir()
    authors_tables(elsewhere, ("S04", "S07", "S08"), 9, table_labels)
    for side in ("train", "test"):  # links out of the data folder
        (data / f"split_S04S07S08_{side}.csv").symlink_to(elsewhere / f"split_S04S07S08_{side}.csv")
    labels = np.unique(label, return_inverse=True)[1]
    with pytest.raises(InputError, match=r"split_S04S07S08_train.csv: path resolves outside .*--allow-outside-root"):
        protocol_folds("authors", labels=labels, groups=uid, subjects=subjects, uid=uid, label=label, split_folder=data)
    ((name, split),) = protocol_folds("authors", labels=labels, groups=uid, subjects=subjects, uid=uid, label=label,
                                      split_folder=data, allow_outside_root=True)
    assert name == "authors" and len(split.test) == 9
