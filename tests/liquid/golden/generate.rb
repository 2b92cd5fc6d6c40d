# Golden outputs for the Liquid conformance suite, rendered by Shopify's reference
# Ruby Liquid. Run by hand after editing cases.json (CI has no Ruby):
#
#   apt-get install -y ruby ruby-liquid ruby-activesupport   # Liquid 5.4, ActiveSupport 6.1
#   ruby tests/liquid/golden/generate.rb                      # rewrites expected.json
#
# Mechanic runs Liquid inside Rails, so ActiveSupport's core extensions are loaded:
# they give `blank?` (used by `== blank`) and `String#first`/`#last` (used by the
# `first`/`last` filters). Templates parse in strict mode and render with `render!`,
# so any Liquid error is recorded as {"error": message} instead of inline text.
# Zone-less times are read as UTC (tests/liquid/test_golden.py renders with UTC too).
require 'json'
require 'active_support'
require 'active_support/core_ext'
require 'liquid'

ENV['TZ'] = 'UTC'
dir = File.dirname(__FILE__)
cases = JSON.parse(File.read(File.join(dir, 'cases.json')))
expected = {}
cases.each do |c|
  template = Liquid::Template.parse(c['template'], error_mode: :strict)
  expected[c['name']] = { 'output' => template.render!(c['data'] || {}) }
rescue Liquid::Error, ::StandardError => e
  expected[c['name']] = { 'error' => "#{e.class}: #{e.message}" }
end
lines = expected.map { |name, result| "  #{JSON.generate(name)}: #{JSON.generate(result)}" }
File.write(File.join(dir, 'expected.json'), "{\n#{lines.join(",\n")}\n}\n")
puts "#{expected.size} cases, #{expected.count { |_, r| r.key?('error') }} expecting errors"
