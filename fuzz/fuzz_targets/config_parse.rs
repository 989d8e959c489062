//! `config::parse` on arbitrary text: a config is user input, so any string
//! must give a config or a `ConfigError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|json: &str| {
    if let Ok(cfg) = kinesis_target::config::parse(json) {
        // What `parse` promises about an accepted config.
        assert!((1..=500).contains(&cfg.max_events));
        assert!(cfg.max_record_size <= cfg.max_request_size);
        assert!(!cfg.endpoint.url().is_empty());
        assert!(cfg.cron.is_none() || cfg.interval.is_none(), "cron wins over interval");
        assert!(cfg.aggregation.is_none_or(|n| (1..=cfg.max_record_size).contains(&n)));
    }
});
