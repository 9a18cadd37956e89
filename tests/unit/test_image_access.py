"""Image visibility rules and template naming: pure pieces of the image controller."""

from __future__ import annotations

from herder.api.selectors import LabelSelector
from herder.reconcile.image import template_name
from herder.reconcile.selectors import selector_matches


def selector(**data: object) -> LabelSelector:
    return LabelSelector.model_validate(data)


def test_unset_and_empty_selectors_match_every_namespace() -> None:
    assert selector_matches(None, {})
    assert selector_matches(selector(), {"team": "red"})


def test_match_labels_and_expressions() -> None:
    blue = selector(matchLabels={"team": "blue"})
    assert selector_matches(blue, {"team": "blue", "x": "y"})
    assert not selector_matches(blue, {"team": "red"})
    assert not selector_matches(blue, {})
    exprs = selector(matchExpressions=[{"key": "env", "operator": "In", "values": ["prod", "stage"]},
                                       {"key": "frozen", "operator": "DoesNotExist"}])
    assert selector_matches(exprs, {"env": "prod"})
    assert not selector_matches(exprs, {"env": "dev"})
    assert not selector_matches(exprs, {"env": "prod", "frozen": "yes"})
    assert selector_matches(selector(matchExpressions=[{"key": "env", "operator": "NotIn", "values": ["dev"]}]), {})
    assert not selector_matches(selector(matchExpressions=[{"key": "env", "operator": "Exists"}]), {})


def test_template_names_never_collide_with_ecs_vm_names() -> None:
    assert template_name("Image", "team-a", "web") == "img_team-a.web"
    assert template_name("ClusterImage", None, "ubuntu") == "cimg_ubuntu"
    # ECS VMs are <namespace>.<name>; a namespace never contains "_".
    assert "_" in template_name("Image", "img", "x").split(".")[0]
