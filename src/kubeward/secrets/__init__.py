"""Secret scanning: rules as data (kubeward/data/secrets/rules.yaml), one keyword pass over
the bytes, then only the rules whose keywords occurred run their regex near the keyword.

Rule file schema (YAML), one entry per rule under `rules:`:

    - id: aws-access-key-id          # stable, kebab-case; the Finding's rule_id
      title: AWS access key ID
      severity: CRITICAL             # CRITICAL | HIGH | MEDIUM | LOW
      keywords: [akia, asia]         # lower-case; a rule runs only where one occurs
      regex: '\\b((?:AKIA|ASIA)[A-Z2-7]{16})\\b'   # Python re syntax, bytes-safe ASCII
      secret_group: 1                # the capture group holding the secret (0 = whole match)
      entropy: 3.0                   # optional: minimum Shannon entropy (bits/char) of the secret
      allow: ['EXAMPLE$']            # optional: regexes; a secret matching one is not reported
      paths: ['**/.netrc']           # optional: globs; the rule applies only to these paths

and top-level `placeholders:` (lower-case substrings or regexes that mark an example value,
such as `changeme`, `${`, `<password>`, `xxxx`) applied to every rule with entropy gating.
"""
