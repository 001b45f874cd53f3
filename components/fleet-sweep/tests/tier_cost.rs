//! The cost estimate follows the size: each paid tier's guest and region (fleet_reconcile::tier_size) priced
//! with the embedded price table, so a larger Elite guest is estimated higher than Pro's, and equal sizes
//! (today's single size) cost the same.

use fleet_reconcile::tier_size::TierSizes;
use fleet_sweep::PriceTable;

fn monthly(sizes: &TierSizes, tier: &str) -> f64 {
    let size = sizes.for_tier(tier).unwrap();
    PriceTable::embedded()
        .monthly_estimate(
            &size.guest.cpu_kind,
            size.guest.cpus,
            size.guest.memory_mb,
            &size.region,
        )
        .unwrap()
}

#[test]
fn the_estimate_follows_each_tiers_size() {
    let vars = [("fly_cpus_elite", "4"), ("fly_memory_mb_elite", "4096")];
    let sizes = TierSizes::from_variables(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let (pro, elite) = (monthly(&sizes, "pro"), monthly(&sizes, "elite"));
    assert!(elite > pro, "elite {elite} should cost more than pro {pro}");
    let table = PriceTable::embedded();
    assert_eq!(
        Some(pro),
        table.monthly_estimate("shared", 2, 512, "sin"),
        "pro keeps today's size"
    );
    assert_eq!(
        Some(elite),
        table.monthly_estimate("shared", 4, 4096, "sin")
    );
    let same = TierSizes::from_variables(|_| None).unwrap();
    assert_eq!(monthly(&same, "pro"), monthly(&same, "elite"));
}
