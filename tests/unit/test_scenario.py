"""Bad scenarios get a clear error naming the YAML path, the value and what is allowed."""

from pathlib import Path

import pytest
import yaml

from trialsim.config.scenario import ScenarioError, load_scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(tmp_path, data, name="s.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"extends": str(CONFIGS / "bliss76.yaml"), **data}))
    return p


def error_of(tmp_path, data):
    with pytest.raises(ScenarioError) as exc:
        load_scenario(write(tmp_path, data))
    return str(exc.value)


def test_shipped_scenarios_load():
    for name in ("bliss52", "bliss76"):
        sc = load_scenario(CONFIGS / f"{name}.yaml")
        assert sc.name == name


def test_unknown_key(tmp_path):
    msg = error_of(tmp_path, {"design": {"sampel_size": 10}})
    assert "design.sampel_size" in msg and "unknown field" in msg


def test_wrong_type(tmp_path):
    msg = error_of(tmp_path, {"design": {"sample_size": "many"}})
    assert "design.sample_size" in msg and "'many'" in msg


def test_probability_out_of_range(tmp_path):
    msg = error_of(tmp_path, {"population": {"anti_dsdna": 1.4}})
    assert "population.anti_dsdna" in msg and "1.4" in msg and "less than or equal to 1" in msg


def test_proportions_not_summing_to_one(tmp_path):
    msg = error_of(tmp_path, {"population": {"race": {"white": 0.9}}})
    assert "population.race" in msg and "sum to 1" in msg


def test_undefined_control_arm(tmp_path):
    msg = error_of(tmp_path, {"design": {"control": "soc"}})
    assert "design" in msg and "'soc'" in msg and "placebo" in msg


def test_negative_dose(tmp_path):
    msg = error_of(tmp_path, {"design": {"arms": {"bel10": {"dose_mg_kg": -1}}}})
    assert (
        "design.arms.bel10.dose_mg_kg" in msg
        and "-1" in msg
        and "greater than or equal to 0" in msg
    )


def test_unknown_endpoint(tmp_path):
    msg = error_of(tmp_path, {"analysis": {"endpoints": ["sri4", "sri44"]}})
    assert "analysis.endpoints" in msg and "sri44" in msg and "sri5" in msg


def test_endpoint_week_not_a_visit(tmp_path):
    msg = error_of(tmp_path, {"design": {"endpoint_weeks": [50]}})
    assert "endpoint week 50" in msg


def test_bad_correlation_matrix(tmp_path):
    msg = error_of(
        tmp_path, {"population": {"correlations": {"age~weight": 0.5, "wrong~age": 0.1}}}
    )
    assert "population.correlations" in msg and "wrong~age" in msg


NOT_PD = {"age~weight": 0.95, "age~activity": 0.95, "weight~activity": -0.95}


def test_not_positive_definite_correlations_is_a_schema_error(tmp_path):
    """Caught when the scenario is read, not later inside a worker."""
    msg = error_of(tmp_path, {"population": {"correlations": NOT_PD}})
    assert "population.correlations" in msg and "positive definite" in msg
    assert "smallest eigenvalue -" in msg


def test_not_positive_definite_correlations_in_an_override_or_sweep_point(bliss76):
    from trialsim.config.scenario import with_overrides

    with pytest.raises(ScenarioError, match="population.correlations"):
        with_overrides(bliss76, {"population.correlations": NOT_PD})
    with pytest.raises(ScenarioError, match="population.correlations"):
        load_scenario(CONFIGS / "bliss76.yaml", {"population.correlations.age~weight": 0.999,
                                                 "population.correlations.age~activity": 0.999,
                                                 "population.correlations.weight~activity": 0})


def test_race_region_table_that_cannot_be_fitted_is_a_schema_error(tmp_path):
    race = {"white": 0.5, "black": 0.5, "asian": 0, "indigenous_american": 0, "other": 0}
    region = {"us_canada": 0.5, "western_europe_israel": 0.5, "eastern_europe": 0,
              "latin_america": 0, "asia_pacific": 0}
    # Black patients only in western Europe and white patients only there too: no table
    # can put half of the patients in the US/Canada
    affinity = {"black": {"us_canada": 0}, "white": {"us_canada": 0}}
    msg = error_of(tmp_path, {"population": {"race": race, "region": region,
                                             "race_region_affinity": affinity}})
    assert "population.race_region_affinity" in msg and "black/us_canada" in msg
    # with a quarter of Black patients, all in western Europe, white patients fill the rest
    ok = {"black": {"us_canada": 0}}
    race = {**race, "white": 0.75, "black": 0.25}
    sc = load_scenario(write(tmp_path, {"population": {"race": race, "region": region,
                                                       "race_region_affinity": ok}}))
    from trialsim.model.population import race_region_table

    table = race_region_table(sc)
    assert table[1, 0] == 0 and table[1, 1] == pytest.approx(0.25)


def test_invalid_yaml_syntax(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(p)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_override_unknown_path():
    with pytest.raises(ScenarioError, match="no field 'design.nope'"):
        load_scenario(CONFIGS / "bliss76.yaml", {"design.nope.x": 1})


def test_override_race_share_rescales_the_others():
    sc = load_scenario(CONFIGS / "bliss76.yaml", {"population.race.black": 0.25})
    race = sc.population.race
    assert race.black == 0.25
    assert abs(sum(race.model_dump().values()) - 1) < 1e-9
    assert race.white / race.asian == pytest.approx(0.70 / 0.03)


def test_digest_ignores_parallelism_but_not_model():
    a = load_scenario(CONFIGS / "bliss76.yaml")
    b = load_scenario(CONFIGS / "bliss76.yaml", {"engine.n_jobs": 7, "engine.chunk_size": 3})
    c = load_scenario(CONFIGS / "bliss76.yaml", {"drug.emax": 0.1})
    assert a.digest() == b.digest() != c.digest()


@pytest.mark.parametrize(
    "overrides, path, value",
    [
        ({"drug": {"modifiers": {"race": {"martian": 1.0}}}}, "drug.modifiers.race", "martian"),
        ({"standard_of_care": {"region_effect": {"mars": 0.1}}}, "standard_of_care.region_effect",
         "mars"),
        ({"disease": {"race_activity": {"klingon": 0.1}}}, "disease.race_activity", "klingon"),
    ],
)
def test_unknown_keys_of_keyed_mappings(tmp_path, overrides, path, value):
    msg = error_of(tmp_path, overrides)
    assert path in msg and value in msg and "allowed" in msg


@pytest.mark.parametrize("comparisons, words", [
    ([["bel10", "bel5"]], ["design", "comparisons[0]", "'bel5'", "placebo, bel1, bel10"]),
    ([["bel10", "bel10"]], ["comparisons[0]", "compares an arm with itself"]),
    ([["bel10", "placebo"], ["bel10", "placebo"]],
     ["design.comparisons", "must be distinct", "repeated"]),
    ([["bel10", "placebo", "bel1"]], ["design.comparisons.0"]),
    ([], ["design.comparisons", "at least 1"]),
])
def test_bad_comparisons(tmp_path, comparisons, words):
    msg = error_of(tmp_path, {"design": {"comparisons": comparisons}})
    for w in words:
        assert w in msg, (w, msg)


def test_listed_comparisons_replace_the_default(tmp_path):
    sc = load_scenario(write(tmp_path, {"design": {"comparisons": [["bel10", "bel1"],
                                                                   ["bel1", "placebo"]]}}))
    assert sc.design.comparison_pairs == [("bel10", "bel1"), ("bel1", "placebo")]
    assert load_scenario(CONFIGS / "bliss76.yaml").design.comparison_pairs == [
        ("bel1", "placebo"), ("bel10", "placebo")]
