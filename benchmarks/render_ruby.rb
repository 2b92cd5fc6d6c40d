# Ruby Liquid (Shopify's, Mechanic's own engine) rendering the corpus, for benchmarks/render.py.
#
#   uv run python benchmarks/render.py --ruby-input /tmp/render-input.json
#   ruby benchmarks/render_ruby.rb /tmp/render-input.json benchmarks/render_ruby_results.json [seconds] [rounds]
#
# Debian's ruby-liquid (5.4). Mechanic's tags are stand-ins that do no work of their own: a block
# form renders its body and discards it, an inline form evaluates nothing; `permissions` skips
# its scope list. So that data flows as in Mechanic (as benchmarks/stock_liquid.py does for
# stock python-liquid), `parse_json`/`json` are real, `array`/`hash`/`newline` are variables and
# an indexed assignment (`assign order["tags"] = x`) stores in place (IndexedAssign below); the
# other Mechanic filters Ruby Liquid lacks return their input. Every corpus task parses and
# renders; the results file (renders/s, date, load) is committed so CI needs no Ruby.
require "json"
require "liquid"
require "time"

# A Mechanic tag that is a block when closed ahead (as Mechanic decides) and inline otherwise.
class StandInTag < Liquid::Block
  def self.parse(tag_name, markup, tokenizer, parse_context)
    ahead = tokenizer.instance_variable_get(:@tokens)
    offset = tokenizer.instance_variable_get(:@offset) || 0
    closed = false
    (ahead[offset..] || []).each do |token|
      next unless token.start_with?("{%")
      name = token[/\A\{%-?\s*(\w+)/, 1]
      if name == "end#{tag_name}"
        closed = true
        break
      end
      break if name == tag_name
    end
    closed ? super : StandInInline.parse(tag_name, markup, tokenizer, parse_context)
  end

  def render_to_output_buffer(context, output)
    super(context, +"")
    output
  end
end

class StandInInline < Liquid::Tag
  def render_to_output_buffer(_context, output)
    output
  end
end

class PermissionsStandIn < Liquid::Raw
  def render_to_output_buffer(_context, output)
    output
  end
end

# `assign name[key]... = value`: Mechanic's indexed assignment, as Ratchet and the stock anchor do it:
# written in place into containers this render made, a container from outside (the event's data,
# the frozen `array`/`hash` literals) copied once first; the value stored as a (shallow) copy.
class IndexedAssign < Liquid::Assign
  INDEXED = /\A\s*(\w+)((?:\[[^\]]+\]|\.\w+)+)\s*=\s*(.*)\z/m

  def initialize(tag_name, markup, parse_context)
    match = INDEXED.match(markup)
    return super unless match

    @root = match[1]
    @keys = match[2].scan(/\[([^\]]+)\]|\.(\w+)/).map do |index, field|
      index ? Liquid::Expression.parse(index.strip) : field
    end
    @from = Liquid::Variable.new(match[3], parse_context)
    @to = @root
    @line_number = parse_context.line_number
    @parse_context = parse_context
  end

  def render_to_output_buffer(context, output)
    return super unless @root

    value = @from.render(context)
    keys = @keys.map { |key| key.is_a?(String) ? key : context.evaluate(key) }
    owned = (context.registers[:owned] ||= {}.compare_by_identity)
    current = context[@root]
    root = writable(current, keys.first, owned)
    context.scopes.last[@root] = root unless root.equal?(current)
    store(root, keys, value.is_a?(Array) || value.is_a?(Hash) ? value.dup : value, owned)
    output
  end

  private

  def writable(container, key, owned)
    return container if owned.key?(container)

    fresh = if container.is_a?(Array) && key.is_a?(Integer) then container.dup
            elsif container.is_a?(Hash) then container.dup
            elsif key.is_a?(Integer) then []
            else {}
            end
    owned[fresh] = true
    fresh
  end

  def store(container, keys, value, owned)
    *path, last = keys
    path.each_with_index do |key, depth|
      current = container[key]
      child = writable(current, keys[depth + 1], owned)
      container[key] = child unless child.equal?(current)
      container = child
    end
    container[last] = value
  end
end

module JsonFilters
  def parse_json(value)
    JSON.parse(value.to_s)
  rescue JSON::ParserError
    nil
  end

  def json(value)
    JSON.generate(value)
  end
end

Liquid::Template.register_tag("assign", IndexedAssign)
Liquid::Template.register_filter(JsonFilters)
%w[action log error].each { |name| Liquid::Template.register_tag(name, StandInTag) }
Liquid::Template.register_tag("permissions", PermissionsStandIn)

input = JSON.parse(File.read(ARGV.fetch(0)))
stand_ins = Module.new
input["filters"].each do |name|
  next if Liquid::StandardFilters.method_defined?(name) || JsonFilters.method_defined?(name)
  stand_ins.define_method(name) { |value, *_args| value }
end
Liquid::Template.register_filter(stand_ins)

literals = { "array" => [].freeze, "hash" => {}.freeze, "newline" => "\n" }
jobs = input["renders"].map do |render|
  [Liquid::Template.parse(render["script"], error_mode: :lax), render["variables"].merge(literals)]
end
failed = 0
jobs.each do |template, variables|
  template.render(variables)
  failed += 1 unless template.errors.empty?
end

seconds = (ARGV[2] || "2").to_f
rounds = (ARGV[3] || "3").to_i
count = 0
elapsed = 0.0
rounds.times do
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  loop do
    jobs.each { |template, variables| template.render(variables) }
    count += jobs.size
    break if Process.clock_gettime(Process::CLOCK_MONOTONIC) - started >= seconds
  end
  elapsed += Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
end

results = {
  "date" => Time.now.utc.iso8601,
  "ruby" => RUBY_VERSION,
  "liquid" => Liquid::VERSION,
  "tasks" => input["renders"].map { |render| render["task"] }.uniq.size,
  "renders" => jobs.size,
  "renders_with_errors" => failed,
  "renders_per_s" => (count / elapsed).round(1),
  "load" => File.read("/proc/loadavg").split[0, 3].join(" "),
  "cores" => File.read("/proc/cpuinfo").scan(/^processor/).size,
}
File.write(ARGV.fetch(1), JSON.pretty_generate(results) + "\n")
puts JSON.generate(results)
